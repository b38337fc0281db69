//! The record loop the synchronous filters share: read every input record in order, hand it
//! to the tool, write what it emits, route what it rejects, report malformed lines, flush
//! whenever the input would block, and sum it all up at the end.

use std::io::{self, Stdout, Write};

use crate::raw::LineRecord;
use crate::reader::{Located, Reader};
use crate::{CommonArgs, Outcome, Rejects, Summary, Writer, input};

/// Where a tool's handler sends its results for one input record.
pub struct Sink<'a> {
    writer: &'a mut Writer<Stdout>,
    rejects: &'a mut Rejects,
    summary: &'a mut Summary,
}

impl Sink<'_> {
    /// Emits a record on stdout.
    pub fn emit(&mut self, record: &impl LineRecord) -> anyhow::Result<()> {
        self.writer.write(record)?;
        self.summary.records_out += 1;
        Ok(())
    }

    /// Sends a record to the rejects file with the reason.
    pub fn reject(
        &mut self,
        located: Located<impl LineRecord>,
        reason: &str,
    ) -> anyhow::Result<()> {
        self.summary.rejected += 1;
        self.rejects.reject_located(located, reason)
    }
}

/// One run of a synchronous filter over its inputs.
pub struct Stream {
    label: String,
    quiet: bool,
    stats: Option<std::path::PathBuf>,
    reader: Reader,
    writer: Writer<Stdout>,
    rejects: Rejects,
    summary: Summary,
    malformed: u64,
}

impl Stream {
    /// Checks the inputs exist and opens the rejects file; both failures are usage errors,
    /// found before any input is read.
    pub fn open(tool: &str, common: &CommonArgs) -> anyhow::Result<Self> {
        let label = common.label(tool);
        input::check_exist(&common.inputs)?;
        Ok(Stream {
            rejects: Rejects::open(&label, common.rejects.as_deref())?,
            summary: Summary::new(&label),
            reader: Reader::new(&common.inputs),
            writer: Writer::stdout(),
            quiet: common.quiet,
            stats: common.stats.clone(),
            label,
            malformed: 0,
        })
    }

    /// Calls `handle` for every record in order, read as `R` (`Record`, or `RawRecord` for
    /// a tool that reads few of its fields). An error from `handle` stops the run.
    pub fn for_each<R: LineRecord>(
        &mut self,
        mut handle: impl FnMut(Located<R>, &mut Sink) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        loop {
            if self.reader.would_block() {
                self.writer.flush()?;
            }
            let Some(next) = self.reader.next_parsed(R::parse)? else {
                break;
            };
            self.summary.records_in += 1;
            match next {
                Ok(located) => {
                    let mut sink = Sink {
                        writer: &mut self.writer,
                        rejects: &mut self.rejects,
                        summary: &mut self.summary,
                    };
                    handle(located, &mut sink)?;
                }
                Err(bad) => {
                    self.malformed += 1;
                    self.summary.rejected += 1;
                    // Malformed input fails the run (exit 1), so say why on stderr even when
                    // the line itself is kept in the rejects file.
                    if self.rejects.has_file() {
                        let _ = writeln!(io::stderr().lock(), "{}: {bad}", self.label);
                    }
                    self.rejects.reject_malformed(&bad)?;
                }
            }
        }
        self.writer.flush()
    }

    /// The summary, for tool-specific figures.
    pub fn summary_mut(&mut self) -> &mut Summary {
        &mut self.summary
    }

    /// The label messages use (`tool` or `tool[stage]`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Prints the summary and says how the run ended.
    pub fn finish(self) -> anyhow::Result<Outcome> {
        self.summary.finish(self.quiet, self.stats.as_deref())?;
        if self.malformed > 0 || self.rejects.lost_without_file() {
            Ok(Outcome::RecordsFailed)
        } else {
            Ok(Outcome::Success)
        }
    }
}
