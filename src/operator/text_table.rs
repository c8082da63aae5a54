//! Aligned text tables for the log: a header and rows of cells, each column as wide as its widest
//! cell, each line beginning with `stats` so that `grep stats` keeps the whole report (the logger
//! gives the record's first line its time, level and thread). Nothing here blocks.

use std::fmt::{self, Write as _};

/// Write `header` and `rows` as aligned lines, each starting on a new line with `stats`.
pub fn write(f: &mut fmt::Formatter<'_>, header: &[&str], rows: &[Vec<String>]) -> fmt::Result {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(rows).collect();
    let mut widths = vec![0; header.len()];
    for row in &lines {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &lines {
        let mut line = String::from("\nstats ");
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, " {cell:<width$} ");
        }
        f.write_str(line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table;

    impl fmt::Display for Table {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let rows = [vec!["1".to_string(), "longer".to_string()]];
            write(f, &["pair", "x"], &rows)
        }
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        assert_eq!(Table.to_string(), "\nstats  pair  x\nstats  1     longer");
    }
}
