//! Reports: human text by default, versioned JSON with `--output json`.
//!
//! Every JSON document a tool prints carries `"schema"` (which report) and
//! `"schema_version"`; fields are only ever added within a version. Text goes to stdout as
//! plain tables; progress bars go to stderr and only when it is a terminal.

use serde::Serialize;
use std::io::{self, Write};

/// The output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Human-readable text and tables.
    #[default]
    Text,
    /// One JSON document with a versioned schema.
    Json,
}

/// The current version of every report schema in this release.
pub const SCHEMA_VERSION: u32 = 1;

/// A result a tool prints.
pub trait Report: Serialize {
    /// The schema name in JSON output (`park/status`).
    const SCHEMA: &'static str;

    /// The schema's version: [`SCHEMA_VERSION`] unless the report's schema changed shape.
    const SCHEMA_VERSION: u32 = SCHEMA_VERSION;

    /// Writes the human-readable form.
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// Writes `report` to `out` in `format`.
pub fn write_report<R: Report>(
    report: &R,
    format: OutputFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Text => report.write_text(out),
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &json_document(report)?)
                .map_err(io::Error::from)?;
            writeln!(out)
        }
    }
}

/// The JSON form of `report`: `schema`, `schema_version`, `build`, then its fields (what
/// `--output json` prints; a notification webhook's body).
pub fn json_document<R: Report>(report: &R) -> io::Result<serde_json::Value> {
    let mut doc = serde_json::Map::new();
    doc.insert("schema".into(), R::SCHEMA.into());
    doc.insert("schema_version".into(), R::SCHEMA_VERSION.into());
    doc.insert(
        "build".into(),
        serde_json::to_value(crate::build::info()).map_err(io::Error::other)?,
    );
    match serde_json::to_value(report).map_err(io::Error::other)? {
        serde_json::Value::Object(fields) => doc.extend(fields),
        other => {
            doc.insert("data".into(), other);
        }
    }
    Ok(serde_json::Value::Object(doc))
}

/// A plain table: a header row and left-aligned columns, no borders, no colour, so it reads
/// the same in a terminal and in a CI log.
pub fn table<H, R, C>(headers: H, rows: R) -> String
where
    H: IntoIterator,
    H::Item: Into<comfy_table::Cell>,
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: Into<comfy_table::Cell>,
{
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers);
    for row in rows {
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let text = t.to_string();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Demo {
        count: u32,
    }

    impl Report for Demo {
        const SCHEMA: &'static str = "demo/report";
        fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "count {}", self.count)
        }
    }

    #[test]
    fn json_carries_schema_and_version() {
        let mut buf = Vec::new();
        write_report(&Demo { count: 3 }, OutputFormat::Json, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["schema"], "demo/report");
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["count"], 3);
    }

    #[test]
    fn text_uses_the_report() {
        let mut buf = Vec::new();
        write_report(&Demo { count: 3 }, OutputFormat::Text, &mut buf).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "count 3\n");
    }

    #[test]
    fn table_has_no_trailing_spaces() {
        let text = table(
            ["NAME", "COUNT"],
            [
                vec!["portal".to_string(), "2".into()],
                vec!["prefect-worker".into(), "10".into()],
            ],
        );
        insta::assert_snapshot!(text, @r"
        NAME            COUNT
        portal          2
        prefect-worker  10
        ");
    }
}
