//! Progress of long work: indicatif spinners on a TTY, plain timestamped lines elsewhere (CI).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// UTC time as `2026-11-21T10:04:05Z`.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    quiet: bool,
    /// Items of the current run, and how many have finished (the overall N/M).
    total: AtomicUsize,
    done: AtomicUsize,
    overall: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines otherwise.
    pub fn new(tty: bool, quiet: bool) -> Self {
        let bars = (tty && !quiet).then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        Progress {
            bars,
            quiet,
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            overall: Mutex::new(None),
        }
    }

    /// A run of `n` items starts: on a terminal an overall bar above the per-item spinners,
    /// elsewhere a `[done/total]` count on each finished item's line.
    pub fn expect(&self, n: usize) {
        self.total.store(n, Ordering::SeqCst);
        self.done.store(0, Ordering::SeqCst);
        if let Some((multi, _)) = &self.bars {
            let bar = multi.insert(0, ProgressBar::new(n as u64));
            bar.set_style(
                ProgressStyle::with_template("{bar:24} {pos}/{len} services {elapsed:.dim}")
                    .expect("template"),
            );
            if let Some(old) = self.overall.lock().expect("progress").replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    /// One more item finished: the `[done/total] ` prefix for a plain line (empty when no
    /// total was announced); the overall bar moves on a terminal.
    fn count(&self) -> String {
        let total = self.total.load(Ordering::SeqCst);
        if total == 0 {
            return String::new();
        }
        let done = (self.done.fetch_add(1, Ordering::SeqCst) + 1).min(total);
        if let Some(bar) = self.overall.lock().expect("progress").as_ref() {
            bar.set_position(done as u64);
            if done == total {
                bar.finish();
            }
        }
        format!("[{done}/{total}] ")
    }

    /// A step of `item` started or moved on.
    pub fn update(&self, item: &str, msg: &str) {
        match &self.bars {
            Some((multi, bars)) => {
                let mut bars = bars.lock().expect("progress");
                let bar = bars.entry(item.to_string()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix:.bold} {msg} {elapsed:.dim}",
                        )
                        .expect("template"),
                    );
                    b.set_prefix(item.to_string());
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                });
                bar.set_message(msg.to_string());
            }
            None if !self.quiet => super::stderr_line(&format!("{} {item}: {msg}", timestamp())),
            None => {}
        }
    }

    /// `item` is finished; its last line stays.
    pub fn finish(&self, item: &str, msg: &str) {
        let count = self.count();
        match &self.bars {
            Some((multi, bars)) => {
                let bar = bars.lock().expect("progress").remove(item);
                match bar {
                    Some(b) => {
                        b.set_style(
                            ProgressStyle::with_template("  {prefix:.bold} {msg}")
                                .expect("template"),
                        );
                        b.finish_with_message(msg.to_string());
                    }
                    None => {
                        let _ = multi.println(format!("  {item} {msg}"));
                    }
                }
            }
            None if !self.quiet => {
                super::stderr_line(&format!("{} {count}{item}: {msg}", timestamp()))
            }
            None => {}
        }
    }

    /// A line not tied to one item.
    pub fn note(&self, msg: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(msg);
            }
            None if !self.quiet => super::stderr_line(&format!("{} {msg}", timestamp())),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finished_items_count_up_to_the_announced_total() {
        let p = super::Progress::new(false, true);
        assert_eq!(p.count(), "", "no total announced: no count");
        p.expect(2);
        assert_eq!(p.count(), "[1/2] ");
        assert_eq!(p.count(), "[2/2] ");
        assert_eq!(p.count(), "[2/2] ", "never past the total");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = super::timestamp();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
