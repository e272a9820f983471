//! JSON string escaping, the one implementation: the X-Ray request body (`exporters/awsxray/body.rs`,
//! byte-identical to `aws-smithy-json`) and the OTLP to X-Ray translation (`translate/write.rs`,
//! byte-identical to `serde_json`) both escape with it; the two serializers escape the same set.
//! Eight bytes at a time: a word without a byte to escape is stored whole, into a stack buffer
//! appended to the output a block at a time.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `w` that needs an escape (control characters, `"` and `\`), and
/// of each control character alone. Exact for every byte (the sums stay within each byte), so
/// every flag is used.
#[inline(always)]
fn escape_mask(w: u64) -> (u64, u64) {
    // The high bit set where a byte differs from `c`.
    let differs = |c: u8| {
        let x = w ^ (ONES * u64::from(c));
        ((x & LOW7) + LOW7) | x
    };
    // The high bit set where a byte is 0x20 or more: its own high bit, or its low seven bits
    // plus 0x60 reaching 0x80.
    let printable = ((w & LOW7) + ONES * 0x60) | w;
    (
        !(differs(b'"') & differs(b'\\') & printable) & HIGH,
        !printable & HIGH,
    )
}

/// Writes the escape of `b` (a byte that needs one) at the start of `dst`; its length.
fn write_escape(b: u8, dst: &mut [u8]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => 0,
    };
    if short != 0 {
        dst[..2].copy_from_slice(&[b'\\', short]);
        2
    } else {
        dst[..6].copy_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]);
        6
    }
}

/// Input bytes escaped per block into a stack buffer, which holds a block's worst case (every
/// byte a six-byte `\u00xx`) plus the slack of one whole-word store; each block is then appended
/// to the body with one copy.
const BLOCK: usize = 64;
const BLOCK_OUT: usize = BLOCK * 6 + 8;

/// Appends `text` (valid UTF-8) escaped as the inside of a JSON string, the way `aws-smithy-json`
/// and `serde_json` both escape: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`, every
/// other byte as it is.
pub fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    let mut buf = [0u8; BLOCK_OUT];
    let mut blocks = text.chunks_exact(BLOCK);
    for block in &mut blocks {
        let n = escape_block(block, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    let n = escape_block(blocks.remainder(), &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Escapes at most [`BLOCK`] bytes into `buf`; the length written. Eight bytes at a time: each
/// word is stored whole; for each byte in it that needs an escape, the escape is written in its
/// place and the rest of the word stored again after it.
fn escape_block(block: &[u8], buf: &mut [u8; BLOCK_OUT]) -> usize {
    let mut n = 0;
    let mut words = block.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        buf[n..n + 8].copy_from_slice(&word);
        let w = u64::from_le_bytes(word);
        let (mut mask, control) = escape_mask(w);
        if mask == 0 {
            n += 8;
            continue;
        }
        if control == 0 {
            // Only `"` and `\`, the common case: a backslash goes before each, and the rest of
            // the word, from that byte on, is stored again after it.
            let mut done = 0;
            while mask != 0 {
                let k = (mask.trailing_zeros() / 8) as usize;
                n += k - done;
                buf[n] = b'\\';
                n += 1;
                buf[n..n + 8].copy_from_slice(&(w >> (8 * k)).to_le_bytes());
                done = k;
                mask &= mask - 1;
            }
            n += 8 - done;
            continue;
        }
        // Bytes of the word written so far.
        let mut done = 0;
        while mask != 0 {
            let k = (mask.trailing_zeros() / 8) as usize;
            n += k - done;
            n += write_escape(word[k], &mut buf[n..]);
            done = k + 1;
            mask &= mask - 1;
            if done < 8 {
                buf[n..n + 8].copy_from_slice(&(w >> (8 * done)).to_le_bytes());
            }
        }
        n += 8 - done;
    }
    for &b in words.remainder() {
        if b < 0x20 || b == b'"' || b == b'\\' {
            n += write_escape(b, &mut buf[n..]);
        } else {
            buf[n] = b;
            n += 1;
        }
    }
    n
}
