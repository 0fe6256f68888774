//! The TCP step: `send(data=...)` writes the data and a newline and returns the first line of
//! the reply. Unlike other steps it raises on failure (as Faultbox does).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use super::{text_arg, Target};
use ospecc_compiler::topology::run::Args;

/// The longest reply line kept.
const MAX_LINE_BYTES: u64 = 64 * 1024;

pub fn send(target: &Target, args: &Args) -> anyhow::Result<String> {
    let Some(data) = text_arg(args, "data") else { anyhow::bail!("`send` needs `data=`") };
    let mut stream = TcpStream::connect_timeout(&target.address, target.timeout)
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", target.address))?;
    stream.set_read_timeout(Some(target.timeout))?;
    stream.set_write_timeout(Some(target.timeout))?;
    stream.write_all(format!("{data}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(std::io::Read::take(stream, MAX_LINE_BYTES)).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
