//! The byte form of a series' state, for checkpoints: what each detector writes of itself
//! and reads back into a state made afresh from the same configuration.
//!
//! Values are written as their bits (little-endian), so a state read back is the one that
//! was written, bit for bit: signed zeros, overflowed sums and all. What the configuration
//! fixes (window sizes, bin widths, forgetting rates, seeds) is not written; what a detector
//! can grow again exactly from what is written (a forest's trees) is not either. Reading
//! never panics: a short or inconsistent input is an [`Unreadable`] error.

/// Why saved bytes could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unreadable(pub(crate) &'static str);

/// A part of a series' state that writes itself, and reads itself back into a new one made
/// from the same configuration.
pub(crate) trait Saved {
    fn save(&self, out: &mut Writer<'_>);
    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable>;
}

/// Appends values to a byte buffer.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.out.push(u8::from(value));
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn u128(&mut self, value: u128) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn usize(&mut self, value: usize) {
        self.u64(value as u64);
    }

    pub(crate) fn f64(&mut self, value: f64) {
        self.u64(value.to_bits());
    }

    /// A length, then the values.
    pub(crate) fn f64s<'v>(&mut self, values: impl ExactSizeIterator<Item = &'v f64>) {
        self.usize(values.len());
        for value in values {
            self.f64(*value);
        }
    }

    pub(crate) fn f32s(&mut self, values: &[f32]) {
        self.usize(values.len());
        for value in values {
            self.u32(value.to_bits());
        }
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.usize(value.len());
        self.out.extend_from_slice(value.as_bytes());
    }

    /// Whether `value` is present, then what `write` writes of it.
    pub(crate) fn option<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.bool(value.is_some());
        if let Some(value) = value {
            write(self, value);
        }
    }
}

/// Reads back what a [`Writer`] wrote, in the same order.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Unreadable> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(Unreadable("the state ends early"))?;
        self.bytes = rest;
        Ok(*head)
    }

    pub(crate) fn bool(&mut self) -> Result<bool, Unreadable> {
        match self.take::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Unreadable("a flag is neither 0 nor 1")),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Unreadable> {
        self.take().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Unreadable> {
        self.take().map(u64::from_le_bytes)
    }

    pub(crate) fn u128(&mut self) -> Result<u128, Unreadable> {
        self.take().map(u128::from_le_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Unreadable> {
        self.take().map(i64::from_le_bytes)
    }

    pub(crate) fn usize(&mut self) -> Result<usize, Unreadable> {
        usize::try_from(self.u64()?).map_err(|_| Unreadable("a count does not fit in memory"))
    }

    pub(crate) fn f64(&mut self) -> Result<f64, Unreadable> {
        self.u64().map(f64::from_bits)
    }

    /// A length of at most `max` items of `size` bytes each, checked against what is left
    /// so that a corrupt length never allocates.
    fn length(&mut self, max: usize, size: usize) -> Result<usize, Unreadable> {
        let len = self.usize()?;
        if len > max {
            return Err(Unreadable("a list is longer than the configuration allows"));
        }
        if len.saturating_mul(size) > self.bytes.len() {
            return Err(Unreadable("the state ends early"));
        }
        Ok(len)
    }

    /// Values written by [`Writer::f64s`], at most `max`, into `into` (cleared first).
    pub(crate) fn f64s_into(
        &mut self,
        into: &mut impl Extend<f64>,
        max: usize,
    ) -> Result<usize, Unreadable> {
        let len = self.length(max, 8)?;
        for _ in 0..len {
            into.extend([self.f64()?]);
        }
        Ok(len)
    }

    pub(crate) fn f32s(&mut self, max: usize) -> Result<Vec<f32>, Unreadable> {
        let len = self.length(max, 4)?;
        (0..len).map(|_| self.u32().map(f32::from_bits)).collect()
    }

    pub(crate) fn str(&mut self, max: usize) -> Result<&'a str, Unreadable> {
        let len = self.length(max, 1)?;
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(text).map_err(|_| Unreadable("a name is not UTF-8"))
    }

    /// What [`Writer::option`] wrote.
    pub(crate) fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Unreadable>,
    ) -> Result<Option<T>, Unreadable> {
        if self.bool()? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A part the configuration says is there (`Some`) or not: the state must agree.
    pub(crate) fn part<T>(
        &mut self,
        part: Option<&mut T>,
        read: impl FnOnce(&mut T, &mut Self) -> Result<(), Unreadable>,
    ) -> Result<(), Unreadable> {
        match (self.bool()?, part) {
            (true, Some(part)) => read(part, self),
            (false, None) => Ok(()),
            _ => Err(Unreadable(
                "a detector is on in the state and off in the configuration, or the reverse",
            )),
        }
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(self) -> Result<(), Unreadable> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Unreadable("bytes are left after the state"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_bit_for_bit() {
        let mut bytes = Vec::new();
        let mut w = Writer::new(&mut bytes);
        w.bool(true);
        w.u128(u128::MAX - 3);
        w.i64(-5);
        w.f64s([-0.0, f64::INFINITY, f64::MIN_POSITIVE].iter());
        w.f32s(&[-0.0, 1.5]);
        w.str("série");
        w.option(Some(2.5), Writer::f64);
        w.option(None::<f64>, Writer::f64);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.u128(), Ok(u128::MAX - 3));
        assert_eq!(r.i64(), Ok(-5));
        let mut values = Vec::new();
        assert_eq!(r.f64s_into(&mut values, 3), Ok(3));
        let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            bits,
            [
                (-0.0f64).to_bits(),
                f64::INFINITY.to_bits(),
                f64::MIN_POSITIVE.to_bits()
            ]
        );
        let floats = r.f32s(2).unwrap();
        assert_eq!(floats[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(r.str(10), Ok("série"));
        assert_eq!(r.option(Reader::f64), Ok(Some(2.5)));
        assert_eq!(r.option(Reader::f64), Ok(None));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn short_or_inconsistent_input_is_refused_without_panicking() {
        let mut bytes = Vec::new();
        Writer::new(&mut bytes).f64s([1.0, 2.0].iter());
        assert!(Reader::new(&bytes).f64s_into(&mut Vec::new(), 1).is_err());
        assert!(Reader::new(&bytes[..12])
            .f64s_into(&mut Vec::new(), 9)
            .is_err());
        let mut huge = Vec::new();
        Writer::new(&mut huge).usize(usize::MAX / 2);
        assert!(Reader::new(&huge).f32s(usize::MAX).is_err());
        assert!(Reader::new(&[2]).bool().is_err());
        assert!(Reader::new(&[0, 0]).finish().is_err());
        assert!(Reader::new(&[1])
            .part(None::<&mut u8>, |_, _| Ok(()))
            .is_err());
    }
}
