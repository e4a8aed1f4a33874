//! The progress of a long run on standard error: on a terminal, a bar redrawn in place with the
//! count, the rate and the time left; otherwise a plain line every few seconds, so that a log
//! shows a run is alive without a line per batch.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// How often a terminal's bar is redrawn.
const REDRAW: Duration = Duration::from_millis(100);
/// How often a plain line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    what: &'static str,
    total: usize,
    done: usize,
    started: Instant,
    shown: Option<Instant>,
    terminal: bool,
}

impl Progress {
    pub fn new(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            done: 0,
            started: Instant::now(),
            shown: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Counts `count` more done, and shows it when it is time to.
    pub fn advance(&mut self, count: usize) {
        self.done += count;
        let every = if self.terminal { REDRAW } else { PLAIN_EVERY };
        let due = match self.shown {
            Some(shown) => shown.elapsed() >= every,
            None => self.started.elapsed() >= every,
        };
        if due {
            self.show();
        }
    }

    /// Shows the last state, when anything was shown.
    pub fn finish(&mut self) {
        if self.shown.is_some() {
            self.show();
            if self.terminal {
                eprintln!();
            }
        }
    }

    fn show(&mut self) {
        self.shown = Some(Instant::now());
        let line = self.line();
        if self.terminal {
            eprint!("\r{line}\x1b[K");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }

    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            self.done as f64 / elapsed
        } else {
            0.0
        };
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 {
            duration(left as f64 / rate)
        } else {
            "?".to_owned()
        };
        let share = if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        };
        let counts = format!(
            "{}/{} {} ({:.0}%), {:.0}/s, {} left",
            self.done,
            self.total,
            self.what,
            share * 100.0,
            rate,
            eta
        );
        if self.terminal {
            const WIDTH: usize = 30;
            let filled = (share * WIDTH as f64).round() as usize;
            format!(
                "[{}{}] {counts}",
                "#".repeat(filled),
                " ".repeat(WIDTH - filled)
            )
        } else {
            counts
        }
    }
}

/// `1h02m`, `3m05s`, `12s`.
fn duration(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(12.2), "12s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
    }

    #[test]
    fn a_plain_line_has_the_count_rate_and_time_left() {
        let mut progress = Progress::new("entries", 200);
        progress.terminal = false;
        progress.done = 50;
        let line = progress.line();
        assert!(line.starts_with("50/200 entries (25%), "), "{line}");
        assert!(line.ends_with(" left"), "{line}");
    }
}
