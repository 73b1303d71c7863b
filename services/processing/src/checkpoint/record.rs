//! A record of a checkpoint topic (`detector-state`, `app-log-rate-state`): key = the
//! state's key (series, service); the payload says where in the stage's input the state
//! was saved, then holds the state as the stage saved it. An empty payload (or a
//! tombstone) says the key was forgotten.

use super::error::CheckpointError;

/// The first bytes of a checkpoint record, and its format's version.
const MAGIC: u32 = u32::from_le_bytes(*b"ckp1");
const HEADER: usize = 4 + 4 + 8 + 8;

/// A series' saved state and where it was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// The input partition of the key's records.
    pub partition: i32,
    /// The state holds every record of that partition before this offset, and none after.
    pub offset: i64,
    /// When it was saved, in milliseconds since the Unix epoch.
    pub saved_at_ms: i64,
    /// What the stage saved ([`super::Checkpointed::save`]).
    pub state: Vec<u8>,
}

/// Starts a record's payload in `out` (cleared first): the stage appends the state.
pub fn start_payload(out: &mut Vec<u8>, partition: i32, offset: i64, saved_at_ms: i64) {
    out.clear();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&partition.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&saved_at_ms.to_le_bytes());
}

/// Reads a payload: `None` for a key forgotten (an empty or null payload).
pub fn read_payload(payload: Option<&[u8]>) -> Result<Option<SavedState>, CheckpointError> {
    let payload = match payload {
        None | Some([]) => return Ok(None),
        Some(payload) => payload,
    };
    let unreadable = || CheckpointError::UnreadableRecord("not a detector checkpoint");
    let (header, state) = payload.split_at_checked(HEADER).ok_or_else(unreadable)?;
    let field = |at: usize| -> [u8; 8] {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&header[at..at + 8]);
        bytes
    };
    let mut word = [0; 4];
    word.copy_from_slice(&header[..4]);
    if u32::from_le_bytes(word) != MAGIC {
        return Err(unreadable());
    }
    word.copy_from_slice(&header[4..8]);
    Ok(Some(SavedState {
        partition: i32::from_le_bytes(word),
        offset: i64::from_le_bytes(field(8)),
        saved_at_ms: i64::from_le_bytes(field(16)),
        state: state.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_and_an_empty_one_is_a_forgotten_series() {
        let mut payload = vec![9, 9];
        start_payload(&mut payload, 2, 1_234, -5);
        payload.extend_from_slice(b"state");
        assert_eq!(
            read_payload(Some(&payload)).unwrap(),
            Some(SavedState {
                partition: 2,
                offset: 1_234,
                saved_at_ms: -5,
                state: b"state".to_vec(),
            })
        );
        assert_eq!(read_payload(Some(&[])).unwrap(), None);
        assert_eq!(read_payload(None).unwrap(), None);
        assert!(read_payload(Some(&payload[..10])).is_err());
        assert!(read_payload(Some(b"{\"json\": \"not a checkpoint\"}")).is_err());
    }
}
