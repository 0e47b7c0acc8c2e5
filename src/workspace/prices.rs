//! The price file's format (shipped in the binary as `src/cost/prices.json`, overridable by the
//! workspace in `scalewize.json`'s `prices` or a `prices.json` beside it) and the exact decimal
//! type every figure and usage quantity is read into. Parsing here means a malformed override is
//! reported like any other workspace file: file, line, column, JSON path and the fix.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative decimal with six fixed decimal places, held as an integer count of millionths:
/// dollars, vCPUs or fractions. Sums and products stay exact (no float drift in totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub i64);

pub const AMOUNT_SCALE: i64 = 1_000_000;

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const ONE: Amount = Amount(AMOUNT_SCALE);

    pub fn from_int(n: i64) -> Amount {
        Amount(n * AMOUNT_SCALE)
    }

    /// Parse a plain decimal (`1.94`, `0.01`, `5`): at most six decimals, never negative.
    pub fn parse(text: &str) -> Result<Amount, String> {
        let t = text.trim();
        let bad = || {
            format!("{text:?} is not a plain non-negative decimal (write e.g. 1.94 or \"0.01\")")
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() && frac.is_empty()
            || !int.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        if frac.len() > 6 {
            return Err(format!(
                "{text:?} has more than six decimals; round it to at most six"
            ));
        }
        let int: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let frac_val: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| bad())?
        };
        int.checked_mul(AMOUNT_SCALE)
            .and_then(|v| v.checked_add(frac_val))
            .map(Amount)
            .ok_or_else(|| format!("{text:?} is too large"))
    }

    /// `self × n / d`, rounded half up (a share, or MB → GB).
    pub fn ratio(self, n: i64, d: i64) -> Amount {
        if d == 0 {
            return Amount::ZERO;
        }
        let p = i128::from(self.0) * i128::from(n);
        let d = i128::from(d);
        Amount(((p + d / 2) / d) as i64)
    }

    pub fn times(self, n: usize) -> Amount {
        Amount(self.0 * n as i64)
    }

    /// Whole cents, rounded half up: what every figure is displayed and totalled as.
    pub fn cents(self) -> i64 {
        (self.0 + 5_000).div_euclid(10_000)
    }

    /// `$1.94` (dollars, rounded to the cent).
    pub fn dollars(self) -> String {
        let c = self.cents();
        let sign = if c < 0 { "-" } else { "" };
        format!("{sign}${}.{:02}", c.abs() / 100, c.abs() % 100)
    }

    /// The exact decimal, trailing zeros trimmed (`0.2`, `150`).
    pub fn decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let v = self.0.abs();
        let int = v / AMOUNT_SCALE;
        let frac = v % AMOUNT_SCALE;
        if frac == 0 {
            format!("{sign}{int}")
        } else {
            let f = format!("{frac:06}");
            format!("{sign}{int}.{}", f.trim_end_matches('0'))
        }
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, o: Amount) -> Amount {
        Amount(self.0 + o.0)
    }
}

/// `a × b`, rounded half up to a millionth (a price times a quantity).
impl std::ops::Mul for Amount {
    type Output = Amount;
    fn mul(self, other: Amount) -> Amount {
        let p = i128::from(self.0) * i128::from(other.0);
        Amount(((p + i128::from(AMOUNT_SCALE) / 2) / i128::from(AMOUNT_SCALE)) as i64)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, o: Amount) -> Amount {
        Amount(self.0 - o.0)
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decimal())
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.decimal())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a non-negative decimal (a number like 1.94, or a string like \"1.94\")",
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Amount, E> {
                // Display of f64 is the shortest exact round trip (1.94 → "1.94"), never exponent.
                Amount::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A non-negative decimal with at most six decimals: a number (1.94) or a string (\"1.94\").",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": "^[0-9]*\\.?[0-9]{0,6}$"}
            ]
        })
    }
}

/// A share of the month, from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(with = "Amount")]
pub struct Fraction(pub Amount);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fraction, D::Error> {
        let a = Amount::deserialize(d)?;
        if a > Amount::ONE {
            return Err(serde::de::Error::custom(format!(
                "{a} is more than 1: a share of the month is between 0 and 1 (0.2 = running a fifth of the time)"
            )));
        }
        Ok(Fraction(a))
    }
}

/// A manifest's expected usage, for `scalewize cost`: Railway bills measured CPU and memory; Fly
/// bills a machine while it runs (`active_fraction` of the month when it stops when idle).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Average vCPUs in use, e.g. 0.01 for an idle MCP server.
    pub cpu: Option<Amount>,
    /// Average memory in use, in MB.
    pub memory_mb: Option<u32>,
    /// Share of the month the server runs (0 to 1); the rest it is stopped (Fly autostop).
    pub active_fraction: Option<Fraction>,
    /// Root filesystem size in MB, billed while a Fly machine is stopped.
    pub rootfs_mb: Option<u32>,
}

/// One price: the figure in US dollars, where it was read and when.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub usd: Amount,
    pub source: Option<String>,
    pub date: Option<String>,
}

/// A Fly machine preset: `cpus` shared vCPUs and `memory_mb`, per month while running.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlyPreset {
    pub cpus: u32,
    pub memory_mb: u32,
    pub usd: Amount,
    pub source: Option<String>,
    pub date: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlyPrices {
    /// Machine presets by size (merged with the built-in ones by cpus + memory_mb).
    pub presets: Option<Vec<FlyPreset>>,
    /// Per GB-month of memory beyond 256 MB per CPU, for sizes with no preset.
    pub extra_memory_gb: Option<Figure>,
    /// Per GB-month of root filesystem while a machine is stopped.
    pub stopped_rootfs_gb: Option<Figure>,
    /// Per month for a dedicated IPv4 address (shared IPv4 and IPv6 are free).
    pub dedicated_ipv4: Option<Figure>,
    /// A region's price as a multiple of the prices above (`{"gru": 1.25}`): Fly prices vary by
    /// region. Machines and stopped rootfs in that region are multiplied by it.
    pub region_multipliers: Option<BTreeMap<String, Amount>>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwayPlan {
    /// The plan's monthly minimum.
    pub monthly: Figure,
    /// Usage included in it.
    pub included: Figure,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwayPrices {
    /// Per vCPU-month of measured CPU.
    pub vcpu: Option<Figure>,
    /// Per GB-month of measured memory.
    pub memory_gb: Option<Figure>,
    /// Plans by name (`hobby`, `pro`), merged with the built-in ones by name.
    pub plans: Option<BTreeMap<String, RailwayPlan>>,
}

/// What is assumed where a manifest states no `usage`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// An idle MCP server's average vCPUs (Railway).
    pub idle_cpu: Option<Amount>,
    /// An idle MCP server's memory in MB (Railway).
    pub idle_memory_mb: Option<u32>,
    /// Share of the month a server that stops when idle runs (Fly); 1 = always on.
    pub active_fraction: Option<Fraction>,
    /// Root filesystem size in MB (Fly, while stopped).
    pub rootfs_mb: Option<u32>,
    /// LibreChat's average vCPUs (Railway); a guess to replace with a measurement.
    pub librechat_cpu: Option<Amount>,
    /// LibreChat's memory in MB (Railway); a guess to replace with a measurement.
    pub librechat_memory_mb: Option<u32>,
}

/// The price file: every field optional so that an override states only what it changes.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// When these prices were read (YYYY-MM-DD).
    pub date: Option<String>,
    /// Where they were read.
    pub source: Option<String>,
    pub fly: Option<FlyPrices>,
    pub railway: Option<RailwayPrices>,
    pub assumptions: Option<Assumptions>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_and_reject_what_is_not_a_plain_decimal() {
        assert_eq!(Amount::parse("1.94"), Ok(Amount(1_940_000)));
        assert_eq!(Amount::parse(".5"), Ok(Amount(500_000)));
        assert_eq!(Amount::parse("5"), Ok(Amount(5_000_000)));
        assert!(Amount::parse("-1").is_err());
        assert!(Amount::parse("1e3").is_err());
        assert!(Amount::parse("0.0000001").is_err());
        assert!(Amount::parse("abc").is_err());
    }

    #[test]
    fn three_times_a_price_shows_no_float_drift() {
        let p: Amount = serde_json::from_str("1.94").unwrap();
        assert_eq!(p.times(3).dollars(), "$5.82");
        let tenth: Amount = serde_json::from_str("0.1").unwrap();
        assert_eq!(tenth.times(3).decimal(), "0.3");
    }

    #[test]
    fn a_share_above_one_is_refused() {
        let e = serde_json::from_str::<Fraction>("1.5").unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
    }
}
