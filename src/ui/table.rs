//! Result tables (deploy, status): columns sized by display width, so colour codes take no
//! room and a long value (`unreachable`, a URL) widens its column instead of pushing the rest.
//! comfy-table measures cells without their ANSI codes (its `custom_styling` feature).

use comfy_table::{CellAlignment, ContentArrangement, Table as Inner, presets};

pub struct Table {
    inner: Inner,
}

/// How a column aligns its cells.
#[derive(Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

impl Table {
    /// A borderless table with these column headers, two spaces between columns.
    pub fn new(headers: &[(&str, Align)]) -> Self {
        let mut inner = Inner::new();
        inner
            .load_style(presets::NOTHING)
            // Never wrap: a wrapped URL cannot be copied; the terminal may scroll sideways.
            .set_content_arrangement(ContentArrangement::Disabled)
            // Colours are decided by the caller (Ui); the table only measures them.
            .force_no_tty()
            .set_header(headers.iter().map(|(h, _)| *h).collect::<Vec<_>>());
        for (i, (_, align)) in headers.iter().enumerate() {
            if let Some(c) = inner.column_mut(i) {
                c.set_padding((0, 2));
                c.set_cell_alignment(match align {
                    Align::Left => CellAlignment::Left,
                    Align::Right => CellAlignment::Right,
                });
            }
        }
        Table { inner }
    }

    /// One row; cells may carry colour codes.
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.inner.add_row(cells);
        self
    }

    /// The lines to print, without trailing blanks.
    pub fn lines(&self) -> Vec<String> {
        self.inner
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> String {
        console::strip_ansi_codes(s).into_owned()
    }

    #[test]
    fn colour_codes_take_no_width_and_long_values_widen_their_column() {
        let mut t = Table::new(&[("STATE", Align::Left), ("URL", Align::Left)]);
        let red = console::Style::new().red().force_styling(true);
        t.row(vec![red.apply_to("down").to_string(), "http://a".into()]);
        t.row(vec!["unreachable".into(), "http://b".into()]);
        let lines: Vec<String> = t.lines().iter().map(|l| strip(l)).collect();
        let url_at: Vec<usize> = lines.iter().map(|l| l.find("http").unwrap_or(0)).collect();
        assert_eq!(lines[0].find("URL"), Some(url_at[1]), "{lines:#?}");
        assert_eq!(url_at[1], url_at[2], "{lines:#?}");
        assert!(url_at[1] > "unreachable".len(), "{lines:#?}");
    }
}
