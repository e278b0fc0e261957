//! Printing results: plain text for people, `--output json` for scripts.

use crate::cli::Output;
use authgate_core::time::format_rfc3339;
use serde::Serialize;

/// Prints `value` as JSON, or `text` for people.
pub(crate) fn print<T: Serialize>(
    output: Output,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Text => println!("{}", text()),
    }
    Ok(())
}

/// Reports a failed command on standard error: `{"error": "..."}` for scripts, a line for people.
pub(crate) fn error(output: Output, message: &str) {
    match output {
        Output::Json => eprintln!("{}", serde_json::json!({ "error": message })),
        Output::Text => eprintln!("authgate: {message}"),
    }
}

/// A Unix time as RFC 3339, or `-`.
pub(crate) fn time(at: Option<i64>) -> String {
    at.map_or_else(|| "-".into(), format_rfc3339)
}

/// Rows as aligned columns under a header.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    std::iter::once(line(header.iter().map(|h| (*h).to_owned()).collect()))
        .chain(rows.into_iter().map(line))
        .collect::<Vec<_>>()
        .join("\n")
}
