//! Fuzzes the X-Ray datagram splitter and body check: any bytes give a segment or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let datagram = bytes::Bytes::copy_from_slice(data);
    if let Ok(segment) =
        xray_collector::receivers::awsxray::datagram::parse(&datagram, std::time::Instant::now())
    {
        // The body is the datagram after its first newline, byte for byte.
        let newline = data.iter().position(|&b| b == b'\n').unwrap_or(0);
        assert_eq!(&segment.body[..], &data[newline + 1..]);
    }
});
