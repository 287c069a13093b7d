//! The line protocol the cache is served over, like 14's: `GET EUR` -> `VALUE EUR 108 MISS`.
//! Generic over the stream, so the tests hand it a scripted mock and `main` an in-memory pipe.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

use crate::{Outcome, PriceCache};

/// The longest line the server accepts (without its `\n`): `GET` and a 16-byte key fit easily.
pub const MAX_LINE: usize = 32;

/// The protocol handler, one session: `GET <key>` -> `VALUE <key> <price> HIT|MISS`, `QUIT` -> `BYE`
/// and hang up, anything else -> `ERROR <reason>`; an over-long line ends the session (a peer that
/// never sends `\n` must not make us buffer without bound). Generic over the stream, so the tests
/// hand it a scripted mock and `main` an in-memory pipe: no socket anywhere.
pub async fn serve<S>(stream: S, cache: &PriceCache) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                lines.send("ERROR line too long").await?;
                return Ok(());
            }
            Err(LinesCodecError::Io(e)) => return Err(e.into()),
        };
        let reply = match line.split_ascii_whitespace().collect::<Vec<_>>()[..] {
            ["GET", key] if is_key(key) => {
                let (price, outcome) = cache.get(key).await;
                let outcome = match outcome {
                    Outcome::Hit => "HIT",
                    Outcome::Miss => "MISS",
                };
                format!("VALUE {key} {price} {outcome}")
            }
            ["GET", _] => "ERROR bad key".to_string(),
            ["QUIT"] => {
                lines.send("BYE").await?;
                return Ok(());
            }
            _ => "ERROR unknown command".to_string(),
        };
        lines.send(reply).await?;
    }
    Ok(())
}

pub fn is_key(key: &str) -> bool {
    (1..=16).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}
