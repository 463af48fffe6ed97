//! A report for a person: one structure rendered to Markdown and to standalone HTML.

use crate::Table;
use crate::table::escape_html;

/// A piece of a report.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A heading of level 1-3.
    Heading(u8, String),
    /// A paragraph of plain text.
    Text(String),
    /// A table.
    Table(Table),
    /// An image (path relative to the report) with a caption.
    Image(String, String),
    /// A row of small images (paths relative to the report) with one caption.
    Gallery(Vec<String>, String),
    /// Preformatted text.
    Code(String),
}

/// A report: a title and blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Title (the level-1 heading).
    pub title: String,
    /// Content, in order.
    pub blocks: Vec<Block>,
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Append a block.
    pub fn push(&mut self, b: Block) -> &mut Self {
        self.blocks.push(b);
        self
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => out += &format!("{} {t}\n\n", "#".repeat(*l as usize + 1)),
                Block::Text(t) => out += &format!("{t}\n\n"),
                Block::Table(t) => out += &format!("{}\n", t.to_markdown()),
                Block::Image(p, c) => out += &format!("![{c}]({p})\n\n*{c}*\n\n"),
                Block::Gallery(ps, c) => {
                    for p in ps {
                        out += &format!("![]({p}) ");
                    }
                    out += &format!("\n\n*{c}*\n\n");
                }
                Block::Code(t) => out += &format!("```\n{t}\n```\n\n"),
            }
        }
        out
    }

    /// The report as a standalone HTML page (images referenced by relative path).
    pub fn to_html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
             body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
             th{{background:#f3f3f3}}figure{{margin:1em 0}}img{{max-width:100%}}.gallery img{{width:160px;margin:2px}}\
             pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style></head><body>\n<h1>{t}</h1>\n",
            t = escape_html(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => {
                    out += &format!("<h{n}>{}</h{n}>\n", escape_html(t), n = l + 1)
                }
                Block::Text(t) => out += &format!("<p>{}</p>\n", escape_html(t)),
                Block::Table(t) => out += &t.to_html(),
                Block::Image(p, c) => {
                    out += &format!(
                        "<figure><img src=\"{}\" alt=\"{c}\"><figcaption>{c}</figcaption></figure>\n",
                        escape_html(p),
                        c = escape_html(c)
                    )
                }
                Block::Gallery(ps, c) => {
                    out += "<figure class=\"gallery\">";
                    for p in ps {
                        out += &format!("<img src=\"{}\" alt=\"\">", escape_html(p));
                    }
                    out += &format!("<figcaption>{}</figcaption></figure>\n", escape_html(c));
                }
                Block::Code(t) => out += &format!("<pre>{}</pre>\n", escape_html(t)),
            }
        }
        out + "</body></html>\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_forms() {
        let mut r = Report::new("Run <1>");
        let mut t = Table::new(["a"]);
        t.push(["1"]);
        r.push(Block::Heading(1, "Front".into()))
            .push(Block::Table(t))
            .push(Block::Image("plots/x.svg".into(), "scatter".into()));
        let md = r.to_markdown();
        assert!(
            md.starts_with("# Run <1>\n")
                && md.contains("## Front")
                && md.contains("![scatter](plots/x.svg)")
        );
        let html = r.to_html();
        assert!(
            html.contains("<title>Run &lt;1&gt;</title>")
                && html.contains("<img src=\"plots/x.svg\"")
        );
    }
}
