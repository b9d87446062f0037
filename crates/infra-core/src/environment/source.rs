//! Where things are in the environment file.
//!
//! hcl-rs's serde errors carry a location only for syntax errors. To point every schema and
//! validation error at `file:line:column`, the loader also parses the file with hcl-edit,
//! which keeps byte spans, and looks a key path (`environment.prod.ecs_cluster.blog-prod...`)
//! up in that tree.

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;
use std::collections::HashMap;
use std::ops::Range;
use tf_locals::LineColumn;

/// The hcl-edit tree of a file, for span look-ups by key path.
#[derive(Debug)]
pub(crate) struct SourceIndex<'a> {
    text: &'a str,
    body: Body,
}

/// A structural problem found in the tree before deserialization.
#[derive(Debug)]
pub(crate) struct StructuralProblem {
    pub at: LineColumn,
    pub message: String,
}

/// How many labels each known block type takes. Unknown block types are left to serde,
/// which reports them as unknown fields of their parent.
const BLOCK_LABELS: &[(&str, usize)] = &[
    ("environment", 1),
    ("terraform", 0),
    ("ecs_cluster", 1),
    ("service", 1),
    ("autoscaling", 0),
    ("aurora_cluster", 1),
    ("eventbridge_rule", 1),
    ("pricing", 0),
    ("image", 1),
    ("endpoint", 1),
];

impl<'a> SourceIndex<'a> {
    pub fn new(text: &'a str, body: Body) -> Self {
        SourceIndex { text, body }
    }

    pub fn line_column(&self, span: &Range<usize>) -> LineColumn {
        LineColumn::of_offset(self.text, span.start)
    }

    /// The position of the deepest element of `path` that exists in the file; the start of
    /// the file when not even the first element does.
    pub fn locate(&self, path: &[String]) -> LineColumn {
        walk_body(&self.body, path)
            .map(|span| self.line_column(&span))
            .unwrap_or(LineColumn { line: 1, column: 1 })
    }

    /// Duplicate blocks and attributes, and blocks with the wrong number of labels, anywhere
    /// in the file. hcl-rs would merge or overwrite these silently.
    pub fn structural_problems(&self) -> Vec<StructuralProblem> {
        let mut problems = Vec::new();
        self.check_body(&self.body, &mut problems);
        problems.sort_by_key(|p| p.at);
        problems
    }

    fn check_body(&self, body: &Body, problems: &mut Vec<StructuralProblem>) {
        let mut attributes: HashMap<&str, Range<usize>> = HashMap::new();
        for attr in body.attributes() {
            let span = attr.span().unwrap_or(0..0);
            if let Some(first) = attributes.get(attr.key.as_str()) {
                problems.push(StructuralProblem {
                    at: self.line_column(&span),
                    message: format!(
                        "duplicate attribute `{}` (first set at {})",
                        attr.key.as_str(),
                        self.line_column(first)
                    ),
                });
            } else {
                attributes.insert(attr.key.as_str(), span);
            }
        }
        let mut blocks: HashMap<(String, Vec<String>), Range<usize>> = HashMap::new();
        for block in body.blocks() {
            let ident = block.ident.as_str();
            let labels: Vec<String> = block.labels.iter().map(|l| l.as_str().to_owned()).collect();
            let span = block.span().unwrap_or(0..0);
            if let Some(first) = attributes.get(ident) {
                problems.push(StructuralProblem {
                    at: self.line_column(&span),
                    message: format!(
                        "`{ident}` is both an attribute (at {}) and a block",
                        self.line_column(first)
                    ),
                });
            }
            if let Some((_, expected)) = BLOCK_LABELS.iter().find(|(name, _)| *name == ident) {
                if labels.len() != *expected {
                    problems.push(StructuralProblem {
                        at: self.line_column(&span),
                        message: match expected {
                            0 => format!("block `{ident}` takes no label, found {}", labels.len()),
                            n => format!(
                                "block `{ident}` needs {n} label (its name, as in `{ident} \"NAME\" {{`), found {}",
                                labels.len()
                            ),
                        },
                    });
                    continue;
                }
            }
            let key = (ident.to_owned(), labels);
            if let Some(first) = blocks.get(&key) {
                let name = if key.1.is_empty() {
                    format!("block `{ident}`")
                } else {
                    format!("{ident} \"{}\"", key.1.join("\" \""))
                };
                problems.push(StructuralProblem {
                    at: self.line_column(&span),
                    message: format!(
                        "duplicate {name} (first defined at {})",
                        self.line_column(first)
                    ),
                });
            } else {
                blocks.insert(key, span);
            }
            self.check_body(&block.body, problems);
        }
    }
}

fn walk_body(body: &Body, path: &[String]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    if let Some(attr) = body.get_attribute(first) {
        let here = attr.key.span().or_else(|| attr.span());
        if rest.is_empty() {
            return here;
        }
        // A value inside an attribute: point at the value (or the nested key).
        return walk_expr(&attr.value, rest)
            .or_else(|| attr.value.span())
            .or(here);
    }
    let candidates: Vec<&Block> = body.get_blocks(first).collect();
    if candidates.is_empty() {
        return None;
    }
    if rest.is_empty() {
        return candidates[0].ident.span();
    }
    for block in &candidates {
        let n = block.labels.len();
        if n == 0 {
            continue;
        }
        let matched = block
            .labels
            .iter()
            .zip(rest)
            .take_while(|(l, s)| l.as_str() == s.as_str())
            .count();
        if matched == n {
            let after = &rest[n..];
            return walk_body(&block.body, after).or_else(|| label_span(block, n - 1));
        }
        if matched == rest.len() {
            // The path ends inside this block's labels.
            return label_span(block, rest.len().saturating_sub(1));
        }
    }
    // An unlabelled block, possibly indexed like an array by serde (`terraform.0.root`).
    let (block, after) = match rest.first().and_then(|s| s.parse::<usize>().ok()) {
        Some(index) => (
            candidates.get(index).copied().unwrap_or(candidates[0]),
            &rest[1..],
        ),
        None => (candidates[0], rest),
    };
    if block.labels.is_empty() {
        walk_body(&block.body, after).or_else(|| block.ident.span())
    } else {
        block.ident.span()
    }
}

fn label_span(block: &Block, index: usize) -> Option<Range<usize>> {
    block
        .labels
        .get(index)
        .and_then(|l| l.span())
        .or_else(|| block.ident.span())
}

fn walk_expr(expr: &Expression, path: &[String]) -> Option<Range<usize>> {
    let (first, rest) = match path.split_first() {
        Some(split) => split,
        None => return expr.span(),
    };
    match expr {
        Expression::Object(object) => {
            for (key, value) in object.iter() {
                let name = match key {
                    ObjectKey::Ident(ident) => Some(ident.as_str().to_owned()),
                    ObjectKey::Expression(Expression::String(s)) => Some(s.as_str().to_owned()),
                    ObjectKey::Expression(_) => None,
                };
                if name.as_deref() == Some(first.as_str()) {
                    if rest.is_empty() {
                        return key.span();
                    }
                    return walk_expr(value.expr(), rest).or_else(|| key.span());
                }
            }
            None
        }
        Expression::Array(array) => {
            let index: usize = first.parse().ok()?;
            let item = array.iter().nth(index)?;
            walk_expr(item, rest).or_else(|| item.span())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let text = "a = \"é\"\nbb = 1\n";
        assert_eq!(
            LineColumn::of_offset(text, 0),
            LineColumn { line: 1, column: 1 }
        );
        assert_eq!(
            LineColumn::of_offset(text, text.find("bb").unwrap()),
            LineColumn { line: 2, column: 1 }
        );
        let after_e = text.find('"').unwrap() + 1 + 'é'.len_utf8();
        assert_eq!(
            LineColumn::of_offset(text, after_e),
            LineColumn { line: 1, column: 7 }
        );
    }
}
