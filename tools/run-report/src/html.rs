//! The report page: one self-contained HTML file (inline CSS and SVG, no scripts, no
//! network assets), so it opens offline, in a mail attachment or a Jupyter cell.

use minijinja::{Environment, context};

use crate::run_view::RunView;
use crate::view::DatasetView;

const TEMPLATE: &str = include_str!("report.html");

/// The page for `run` and its datasets.
pub fn render(run: &RunView, datasets: &[DatasetView]) -> anyhow::Result<String> {
    let mut env = Environment::new();
    // The name's '.html' turns on HTML escaping of every value.
    env.add_template("report.html", TEMPLATE)?;
    let page = env
        .get_template("report.html")?
        .render(context! { run, datasets })?;
    Ok(page)
}
