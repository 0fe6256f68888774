//! The read buffer the parsing plugins (Postgres, Redis) frame messages from: bytes read from
//! a socket, consumed from the front as whole messages are relayed or answered.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// More than this buffered without a complete message is treated as garbage (both protocols
/// cap a message at 1 GiB or less).
const MAX_BUFFERED: usize = 1 << 30;
/// The least free space offered to each read.
const READ_CHUNK: usize = 16 * 1024;

pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    /// Bytes before this are consumed.
    start: usize,
}

impl ReadBuffer {
    pub(crate) fn new() -> ReadBuffer {
        ReadBuffer { data: Vec::with_capacity(READ_CHUNK), start: 0 }
    }

    /// The unconsumed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.start..]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.data.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Reads once more from `reader`; `Ok(0)` is end of stream. The free space offered grows
    /// with the buffered bytes, so that a large message takes a logarithmic number of reads.
    pub(crate) async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<usize> {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        if self.data.len() >= MAX_BUFFERED {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "more than 1 GiB without a complete message"));
        }
        self.data.reserve(READ_CHUNK.max(self.data.len()));
        reader.read_buf(&mut self.data).await
    }
}
