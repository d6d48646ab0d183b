//! Feast's Redis `connection_string` as the URLs the Redis client connects to.

use anyhow::{Result, bail};

/// Feast's Redis `connection_string` (`host:port[,host:port...][,password=...][,ssl=true]
/// [,db=N][,username=...]`) or `redis://` / `rediss://` URLs, as one URL per node, plus the
/// nodes without credentials for messages.
pub(crate) fn redis_urls(text: &str) -> Result<(Vec<String>, String)> {
    let parts: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    // TLS would pull a second TLS stack configuration into the redis client; refused clearly
    // until it is built, rather than failing at the first connection.
    let tls = "TLS to Redis (ssl=true, rediss://) is not supported yet: reach Redis over a private network or a local TLS tunnel";
    if parts.iter().any(|p| p.starts_with("rediss://")) {
        bail!("{tls}");
    }
    if parts.iter().all(|p| p.starts_with("redis://")) && !parts.is_empty() {
        let display = parts
            .iter()
            .map(|u| {
                u.rsplit('@')
                    .next()
                    .unwrap_or(u)
                    .trim_start_matches("redis://")
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(",");
        return Ok((parts.iter().map(|p| p.to_string()).collect(), display));
    }
    let (mut nodes, mut password, mut username, mut ssl, mut db) =
        (Vec::new(), None, None, false, 0u32);
    for part in parts {
        match part.split_once('=') {
            Some(("password", v)) => password = Some(v.to_string()),
            Some(("username", v)) => username = Some(v.to_string()),
            Some(("ssl", v)) => {
                ssl = matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
            }
            Some(("db", v)) => {
                db = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("db `{v}` is not a number"))?
            }
            // redis-py options a Feast connection string carries that change nothing here:
            // the cluster client never checks slot coverage at startup, and timeouts are
            // `timeout_ms`.
            Some((
                "skip_full_coverage_check"
                | "socket_timeout"
                | "socket_connect_timeout"
                | "socket_keepalive"
                | "health_check_interval"
                | "retry_on_timeout"
                | "decode_responses",
                _,
            )) => {}
            Some((k, _)) => bail!(
                "unknown option `{k}`; known: password, username, ssl, db (and redis-py's skip_full_coverage_check, socket_timeout, socket_connect_timeout, socket_keepalive, health_check_interval, retry_on_timeout, which change nothing here)"
            ),
            None => {
                let (host, port) = part.rsplit_once(':').unwrap_or((part, "6379"));
                let port: u16 = port
                    .parse()
                    .map_err(|_| anyhow::anyhow!("`{part}` is not host:port"))?;
                nodes.push((host.to_string(), port));
            }
        }
    }
    if nodes.is_empty() {
        bail!("names no server");
    }
    if ssl {
        bail!("{tls}");
    }
    let auth = match (&username, &password) {
        (_, None) => String::new(),
        (u, Some(p)) => format!("{}:{}@", percent(u.as_deref().unwrap_or("")), percent(p)),
    };
    let urls = nodes
        .iter()
        .map(|(h, p)| format!("redis://{auth}{h}:{p}/{db}"))
        .collect();
    let display = nodes
        .iter()
        .map(|(h, p)| format!("{h}:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok((urls, display))
}

/// Percent-encodes everything but unreserved characters (RFC 3986) for a URL's userinfo.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
