use crate::error::{Error, Result};

/// Parses a memory size such as `"512 MiB"`, `"2GB"`, `"1.5 GiB"` or `"1048576"` into bytes.
///
/// Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000, binary units (`KiB`, `MiB`, `GiB`,
/// `TiB`) powers of 1024; `B` or no unit means bytes. Case and spaces are ignored.
///
/// # Errors
/// [`Error::ParseMemory`] for anything else.
///
/// # Example
/// ```
/// assert_eq!(chunkwise::parse_memory_size("512 MiB").unwrap(), 512 << 20);
/// assert_eq!(chunkwise::parse_memory_size("2GB").unwrap(), 2_000_000_000);
/// ```
pub fn parse_memory_size(s: &str) -> Result<usize> {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| Error::ParseMemory(s.to_string()))?;
    let mult: f64 = match unit {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        _ => return Err(Error::ParseMemory(s.to_string())),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > usize::MAX as f64 {
        return Err(Error::ParseMemory(s.to_string()));
    }
    Ok(bytes.round() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sizes() {
        assert_eq!(parse_memory_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_memory_size("100").unwrap(), 100);
        assert_eq!(parse_memory_size("256mib").unwrap(), 256 << 20);
        assert!(parse_memory_size("lots").is_err());
        assert!(parse_memory_size("12 parsecs").is_err());
    }
}
