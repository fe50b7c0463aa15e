//! Variable Byte Integers (MQTT 5.0 section 1.5.5, 3.1.1 section 2.2.3).

/// The largest value a Variable Byte Integer holds, and so the largest Remaining Length.
pub const MAX_VARINT: u32 = 268_435_455;

/// Bytes needed to write `value` (at most [`MAX_VARINT`]).
#[inline]
pub(crate) const fn len(value: u32) -> usize {
    if value < 0x80 {
        1
    } else if value < 0x4000 {
        2
    } else if value < 0x20_0000 {
        3
    } else {
        4
    }
}

/// Why bytes are not a Variable Byte Integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VarIntError {
    /// The fourth byte still has its continuation bit set.
    TooLong,
    /// The value is written with more bytes than it needs ([MQTT-1.5.5-1]).
    NotMinimal,
}

/// Reads a Variable Byte Integer from the start of `bytes`: `Ok(None)` when `bytes`
/// ends before the integer does; otherwise the value and how many bytes it took.
#[inline]
pub(crate) fn decode(bytes: &[u8]) -> Result<Option<(u32, usize)>, VarIntError> {
    let mut value = 0u32;
    for (i, &byte) in bytes.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // [MQTT-1.5.5-1]: a last byte of 0 after the first means a shorter form exists.
            if i > 0 && byte == 0 {
                return Err(VarIntError::NotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        return Err(VarIntError::TooLong);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_from_the_spec_table() {
        let cases: [(&[u8], u32); 8] = [
            (&[0x00], 0),
            (&[0x7F], 127),
            (&[0x80, 0x01], 128),
            (&[0xFF, 0x7F], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xFF, 0xFF, 0x7F], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xFF, 0xFF, 0xFF, 0x7F], 268_435_455),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Ok(Some((value, bytes.len()))));
            assert_eq!(len(value), bytes.len());
        }
    }

    #[test]
    fn mqtt_1_5_5_1_non_minimal_forms_are_rejected() {
        assert_eq!(decode(&[0x80, 0x00]), Err(VarIntError::NotMinimal));
        assert_eq!(decode(&[0x82, 0x80, 0x00]), Err(VarIntError::NotMinimal));
        assert_eq!(
            decode(&[0x81, 0x80, 0x80, 0x00]),
            Err(VarIntError::NotMinimal)
        );
    }

    #[test]
    fn five_byte_forms_are_rejected_and_prefixes_need_more() {
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF, 0xFF]), Err(VarIntError::TooLong));
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF]), Ok(None));
        assert_eq!(decode(&[]), Ok(None));
    }
}
