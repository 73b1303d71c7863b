//! The wire names of a raw record's fields, written once; everything else derives from
//! [`WIRE_FIELDS`].

/// The fields of a raw record as the connectors name them (French), in wire order: the
/// order a record is serialized in and validation reports problems in.
pub const WIRE_FIELDS: [&str; 18] = [
    "No_Sequence",
    "Date_Sequence",
    "Heure_Sequence",
    "Minute_Sequence",
    "Entreprise",
    "Zone",
    "Source",
    "Objet_Id",
    "Objet",
    "Transformation",
    "Parametres",
    "Etat",
    "Debut",
    "Fin",
    "Duree secondes",
    "Description",
    "cpu_time (sec)",
    "memory_used (bytes)",
];

/// One field of a raw record, named in English; its discriminant is its index in
/// [`WIRE_FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    SequenceId,
    SequenceDate,
    SequenceHour,
    SequenceMinute,
    Company,
    Zone,
    Source,
    ObjectId,
    ObjectType,
    Transformation,
    Parameters,
    Status,
    Start,
    End,
    Duration,
    Description,
    CpuTime,
    MemoryUsed,
}

impl Field {
    /// Every field, in wire order (sized by [`WIRE_FIELDS`], so the two cannot drift).
    const ALL: [Field; WIRE_FIELDS.len()] = [
        Field::SequenceId,
        Field::SequenceDate,
        Field::SequenceHour,
        Field::SequenceMinute,
        Field::Company,
        Field::Zone,
        Field::Source,
        Field::ObjectId,
        Field::ObjectType,
        Field::Transformation,
        Field::Parameters,
        Field::Status,
        Field::Start,
        Field::End,
        Field::Duration,
        Field::Description,
        Field::CpuTime,
        Field::MemoryUsed,
    ];

    pub(crate) const fn wire_name(self) -> &'static str {
        WIRE_FIELDS[self as usize]
    }

    /// The field a wire name names; `None` for any other key. Compares the names in wire
    /// order, as a `match` on them would.
    pub(crate) fn from_wire_name(name: &str) -> Option<Field> {
        WIRE_FIELDS
            .iter()
            .position(|wire| *wire == name)
            .map(|index| Field::ALL[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_at_its_index() {
        for (index, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, index);
            assert_eq!(Field::from_wire_name(field.wire_name()), Some(field));
        }
        assert_eq!(Field::from_wire_name("Objet_id"), None);
    }
}
