//! The state of one series: per metric rolling windows of values and changes, a moving
//! average, and a calibration per detector; one forest over the vector of all its metrics.

use super::calibration::{SignedCalibrator, Tail, TailCalibrator};
use super::config::{DetectorConfig, ForestConfig};
use super::deviation::Deviation;
use super::error::DetectorError;
use super::ewma::Ewma;
use super::forest::TrainingScratch;
use super::habits::{Habits, Judgement, RunFacts};
use super::novelty::{Novelty, NoveltyFinding};
use super::online_forest::OnlineForest;
use super::saved_state::{Reader, Saved, Unreadable, Writer};
use super::scoring::{self, Outage};
use super::seasonal::{Pace, Seasonal, SeasonalFinding};
use super::smoothing::smoothing_factor;
use super::verdict::{Assessment, DetectorKind, DetectorScores, Explanation, Verdict};
use super::zscore::RollingZScore;
use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Bin width of the forest's calibration: its scores lie in (0, 1].
const FOREST_SCORE_WIDTH: f64 = 1.0 / 128.0;

/// Longest metric name a saved state may hold.
const MAX_SAVED_NAME: usize = 1024;

/// The smoothing factors, derived once from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    pub(crate) ewma: f64,
    pub(crate) outage: f64,
    pub(crate) novelty: f64,
    pub(crate) seasonal_slot: f64,
    pub(crate) seasonal: f64,
}

impl Rates {
    pub(crate) fn new(config: &DetectorConfig) -> Self {
        Rates {
            ewma: smoothing_factor(config.ewma.half_life),
            outage: smoothing_factor(config.outage.half_life),
            novelty: smoothing_factor(config.novelty.half_life),
            seasonal_slot: smoothing_factor(config.seasonal.slot_half_life),
            seasonal: smoothing_factor(config.seasonal.half_life),
        }
    }
}

/// A univariate detector's view of one metric, and how its outputs are usually spread.
#[derive(Debug, Clone)]
struct Calibrated<D> {
    detector: D,
    calibration: SignedCalibrator,
}

/// One univariate finding: a deviation and its surprise.
#[derive(Debug, Clone, Copy)]
struct Finding {
    deviation: Deviation,
    surprise: f64,
    /// Beyond the usual extremes of this detector on this metric.
    extreme: bool,
    /// The deviation on the calibration's scale, for learning from it.
    magnitude: f64,
}

impl<D: Saved> Saved for Calibrated<D> {
    fn save(&self, out: &mut Writer<'_>) {
        self.detector.save(out);
        self.calibration.save(out);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        self.detector.load(from)?;
        self.calibration.load(from)
    }
}

impl<D> Calibrated<D> {
    fn new(detector: D, config: &DetectorConfig) -> Self {
        Calibrated {
            detector,
            calibration: SignedCalibrator::new(config.calibration_half_life),
        }
    }

    fn judge(&self, deviation: Deviation) -> Finding {
        let (tail, magnitude) = self.calibration.surprise(deviation.z);
        Finding {
            deviation,
            surprise: tail.surprise,
            extreme: tail.extreme,
            magnitude,
        }
    }

    fn learn(&mut self, finding: Option<Finding>) {
        if let Some(f) = finding {
            self.calibration.push(f.deviation.z, f.magnitude);
        }
    }
}

#[derive(Debug, Clone)]
struct MetricState {
    name: String,
    log_scale: bool,
    level: Option<Calibrated<RollingZScore>>,
    step: Option<Calibrated<RollingZScore>>,
    ewma: Option<Calibrated<Ewma>>,
    novelty: Option<Novelty>,
    seasonal: Option<Seasonal>,
    /// Last value on the detector scale.
    previous: Option<f64>,
}

impl MetricState {
    fn scale(&self, value: f64) -> f64 {
        if self.log_scale {
            value.signum() * value.abs().ln_1p()
        } else {
            value
        }
    }

    fn unscale(&self, value: f64) -> f64 {
        if self.log_scale {
            value.signum() * value.abs().exp_m1()
        } else {
            value
        }
    }
}

/// The findings of one metric for the current point, per detector.
#[derive(Debug, Clone, Copy, Default)]
struct MetricFindings {
    level: Option<Finding>,
    step: Option<Finding>,
    ewma: Option<Finding>,
    novelty: Option<NoveltyFinding>,
    seasonal: Option<SeasonalFinding>,
}

#[derive(Debug, Clone)]
struct ForestState {
    forest: OnlineForest,
    calibration: TailCalibrator,
}

#[derive(Debug, Clone)]
pub(crate) struct SeriesState {
    metrics: Vec<MetricState>,
    /// Boxed: its calibration's bins are inline, and series of one metric have no forest.
    forest: Option<Box<ForestState>>,
    /// The forest's vector, on the detector scale: the current point, then the changes
    /// since the previous one when the forest uses them. Reused from point to point.
    point: Vec<f64>,
    /// The current point's findings, reused from point to point.
    findings: Vec<MetricFindings>,
    seen: usize,
    last_timestamp: Option<DateTime<Utc>>,
    outage: Outage,
    /// What is usual for the object, learned from the runs given with their facts.
    habits: Habits,
}

/// FNV-1a: a hash that stays the same across platforms and compiler versions, so that a
/// series' forest seed does too.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn forest_dims(metrics: usize, config: &ForestConfig) -> usize {
    metrics * (1 + usize::from(config.deltas))
}

fn has_forest(metrics: usize, config: &ForestConfig) -> bool {
    config.enabled && metrics >= config.min_metrics
}

impl SeriesState {
    /// A new series with the metric names of its first record (already checked).
    pub(crate) fn new(config: &DetectorConfig, series: &str, features: &[(&str, f64)]) -> Self {
        let z = &config.zscore;
        let metrics: Vec<MetricState> = features
            .iter()
            .map(|(name, _)| MetricState {
                name: (*name).to_owned(),
                log_scale: config.log_metrics.iter().any(|m| m == name),
                level: z
                    .enabled
                    .then(|| Calibrated::new(RollingZScore::new(z.window, z.robust), config)),
                step: (z.enabled && z.steps)
                    .then(|| Calibrated::new(RollingZScore::new(z.window, z.robust), config)),
                ewma: config
                    .ewma
                    .enabled
                    .then(|| Calibrated::new(Ewma::default(), config)),
                novelty: config
                    .novelty
                    .enabled
                    .then(|| Novelty::new(&config.novelty)),
                seasonal: config
                    .seasonal
                    .enabled
                    .then(|| Seasonal::new(&config.seasonal)),
                previous: None,
            })
            .collect();
        let dims = forest_dims(metrics.len(), &config.forest);
        let forest = has_forest(metrics.len(), &config.forest).then(|| {
            let rng = ChaCha8Rng::seed_from_u64(config.seed ^ stable_hash(series));
            Box::new(ForestState {
                forest: OnlineForest::new(dims, config.min_history, rng),
                calibration: TailCalibrator::new(FOREST_SCORE_WIDTH, config.calibration_half_life),
            })
        });
        SeriesState {
            findings: vec![MetricFindings::default(); metrics.len()],
            metrics,
            forest,
            point: vec![0.0; dims],
            seen: 0,
            last_timestamp: None,
            outage: Outage::default(),
            habits: Habits::default(),
        }
    }

    /// Scores a point (when the series has enough history), then learns from it. A refused
    /// point changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe(
        &mut self,
        config: &DetectorConfig,
        rates: Rates,
        series: &str,
        timestamp: DateTime<Utc>,
        features: &[(&str, f64)],
        run: Option<&RunFacts<'_>>,
        scratch: &mut TrainingScratch,
    ) -> Result<(Verdict, Option<Judgement>), DetectorError> {
        self.check_metrics(series, features)?;
        if let Some(last) = self.last_timestamp {
            if timestamp < last {
                return Err(DetectorError::OutOfOrder {
                    series: series.to_owned(),
                    timestamp: timestamp.to_rfc3339(),
                    last: last.to_rfc3339(),
                });
            }
        }
        self.last_timestamp = Some(timestamp);
        self.load(config, features);
        let forest = self.judge(config, timestamp);
        let verdict = if self.seen < config.min_history {
            Verdict::InsufficientHistory {
                seen: self.seen,
                required: config.min_history,
            }
        } else {
            Verdict::Scored(self.assess(config, rates, features, forest.map(|f| f.1)))
        };
        self.learn(config, rates, timestamp, forest.map(|f| f.0), scratch);
        let judgement = run.map(|run| {
            let judgement = self.habits.judge(&config.habits, run);
            self.habits.learn(&config.habits, run);
            judgement
        });
        Ok((verdict, judgement))
    }

    /// Puts the record's values, on the detector scale, into `self.point`.
    fn load(&mut self, config: &DetectorConfig, features: &[(&str, f64)]) {
        let count = self.metrics.len();
        for (i, (metric, (_, value))) in self.metrics.iter().zip(features).enumerate() {
            let scaled = metric.scale(*value);
            self.point[i] = scaled;
            if config.forest.deltas && self.forest.is_some() {
                self.point[count + i] = metric.previous.map_or(0.0, |p| scaled - p);
            }
        }
    }

    /// Judges the point in `self.point` against the state before it: the findings of the
    /// univariate detectors go to `self.findings`; the forest's score and what its history
    /// says of it are returned.
    fn judge(&mut self, config: &DetectorConfig, at: DateTime<Utc>) -> Option<(f64, Tail)> {
        for (metric, (findings, &value)) in self
            .metrics
            .iter()
            .zip(self.findings.iter_mut().zip(&self.point))
        {
            *findings = MetricFindings {
                level: metric
                    .level
                    .as_ref()
                    .and_then(|l| Some(l.judge(l.detector.deviation(value)?))),
                step: metric
                    .step
                    .as_ref()
                    .zip(metric.previous)
                    .and_then(|(s, previous)| {
                        Some(s.judge(s.detector.deviation(value - previous)?))
                    }),
                ewma: metric
                    .ewma
                    .as_ref()
                    .and_then(|e| Some(e.judge(e.detector.deviation(value)?))),
                novelty: metric.novelty.as_ref().and_then(|n| n.judge(value)),
                seasonal: metric
                    .seasonal
                    .as_ref()
                    .and_then(|s| s.judge(value, at, &config.seasonal)),
            };
        }
        self.forest.as_ref().and_then(|f| {
            let score = f.forest.score(&self.point)?;
            Some((score, f.calibration.surprise(score)))
        })
    }

    /// Learns from the point just judged: windows, averages, calibrations, forest.
    fn learn(
        &mut self,
        config: &DetectorConfig,
        rates: Rates,
        at: DateTime<Utc>,
        forest_score: Option<f64>,
        scratch: &mut TrainingScratch,
    ) {
        for (metric, (findings, &value)) in self
            .metrics
            .iter_mut()
            .zip(self.findings.iter().zip(&self.point))
        {
            if let Some(level) = &mut metric.level {
                level.detector.push(value);
                level.learn(findings.level);
            }
            if let (Some(step), Some(previous)) = (&mut metric.step, metric.previous) {
                step.detector.push(value - previous);
                step.learn(findings.step);
            }
            if let Some(ewma) = &mut metric.ewma {
                ewma.detector.push(value, rates.ewma);
                ewma.learn(findings.ewma);
            }
            if let Some(novelty) = &mut metric.novelty {
                let report = config.levels.warning * config.novelty.max_surprise;
                novelty.learn(
                    value,
                    findings.novelty,
                    report,
                    rates.novelty,
                    &config.novelty,
                );
            }
            if let Some(seasonal) = &mut metric.seasonal {
                seasonal.learn(
                    value,
                    at,
                    findings.seasonal,
                    Pace {
                        slot: rates.seasonal_slot,
                        errors: rates.seasonal,
                        report: config.levels.warning * config.seasonal.max_surprise,
                    },
                    &config.seasonal,
                );
            }
            metric.previous = Some(value);
        }
        if let Some(state) = &mut self.forest {
            if let Some(score) = forest_score {
                state.calibration.push(score);
            }
            state.forest.push(&self.point, &config.forest, scratch);
        }
        self.seen += 1;
    }

    fn check_metrics(&self, series: &str, features: &[(&str, f64)]) -> Result<(), DetectorError> {
        let same = self.metrics.len() == features.len()
            && self
                .metrics
                .iter()
                .zip(features)
                .all(|(metric, (name, _))| metric.name == *name);
        if same {
            Ok(())
        } else {
            Err(DetectorError::MetricsChanged {
                series: series.to_owned(),
                expected: self.metrics.iter().map(|m| m.name.clone()).collect(),
                got: features
                    .iter()
                    .map(|(name, _)| (*name).to_owned())
                    .collect(),
            })
        }
    }

    /// The assessment of the point whose findings are in `self.findings`.
    fn assess(
        &mut self,
        config: &DetectorConfig,
        rates: Rates,
        features: &[(&str, f64)],
        forest_tail: Option<Tail>,
    ) -> Assessment {
        let forest = forest_tail.map(|t| t.surprise);
        let levels = &config.levels;
        let per_detector = |pick: fn(&MetricFindings) -> Option<Finding>| -> Option<f64> {
            self.findings.iter().any(|f| pick(f).is_some()).then(|| {
                let surprises = self.findings.iter().filter_map(pick).map(|f| f.surprise);
                scoring::score(scoring::combine(surprises), levels)
            })
        };
        let detectors = DetectorScores {
            zscore: per_detector(|f| f.level),
            step: per_detector(|f| f.step),
            ewma: per_detector(|f| f.ewma),
            forest: forest.map(|s| scoring::score(s, levels)),
            novelty: self.novelty_score(config),
            seasonal: self.seasonal_score(config),
        };
        let surprises = self
            .findings
            .iter()
            .flat_map(|f| [f.level, f.step, f.ewma])
            .flatten()
            .map(|f| f.surprise)
            .chain(forest);
        let surprise = scoring::combine(surprises);
        // Warmed-up novelty detectors that all saw a familiar move discount the rest.
        let familiar = self
            .findings
            .iter()
            .map(|f| f.novelty.map(|n| !n.new_transition))
            .reduce(|a, b| Some(a? && b?))
            .flatten()
            .unwrap_or(false);
        let weight = if familiar {
            config.novelty.familiar_weight
        } else {
            1.0
        };
        let combined = weight * scoring::score(surprise, levels);
        // A novel level is judged apart: it is a different question (where the series has
        // been, not how far it is from its recent baseline), and the most telling one wins.
        let novelty = detectors.novelty.unwrap_or(0.0);
        // So is a departure from the usual week (how the series usually behaves now).
        let seasonal = detectors.seasonal.unwrap_or(0.0);
        let score = combined.max(novelty).max(seasonal);
        let explanation = if seasonal > combined.max(novelty) {
            self.explain_seasonal(features)
        } else if novelty > combined {
            self.explain_novelty(features)
        } else {
            self.explain(features, forest)
        };
        // A change of step is over in a point; values and a moving average that stay out
        // of their usual range are what an outage looks like.
        let extreme = self
            .findings
            .iter()
            .flat_map(|f| [f.level, f.ewma])
            .flatten()
            .any(|f| f.extreme)
            || forest_tail.is_some_and(|t| t.extreme);
        let (outage_probability, predictive_alert) =
            self.outage.update(extreme, rates.outage, config);
        Assessment {
            score,
            surprise,
            severity: scoring::severity(score, levels),
            detectors,
            explanation,
            outage_probability,
            predictive_alert,
        }
    }

    /// The single most surprising finding. The forest's explanation names the metric whose
    /// value is furthest from its baseline.
    fn explain(&self, features: &[(&str, f64)], forest: Option<f64>) -> Explanation {
        let mut best: Option<(DetectorKind, usize, Finding)> = None;
        for (i, findings) in self.findings.iter().enumerate() {
            let candidates = [
                (DetectorKind::ZScore, findings.level),
                (DetectorKind::Step, findings.step),
                (DetectorKind::Ewma, findings.ewma),
            ];
            for (kind, finding) in candidates {
                if let Some(f) = finding {
                    if best.is_none_or(|(_, _, b)| f.surprise > b.surprise) {
                        best = Some((kind, i, f));
                    }
                }
            }
        }
        let furthest = || {
            (0..self.findings.len())
                .max_by(|&a, &b| self.distance(a).total_cmp(&self.distance(b)))
                .unwrap_or(0)
        };
        let (detector, metric, deviation, surprise) = match (best, forest) {
            (Some((kind, i, f)), Some(s)) if s <= f.surprise => {
                (kind, i, Some(f.deviation), f.surprise)
            }
            (_, Some(s)) => {
                let i = furthest();
                let findings = &self.findings[i];
                let deviation = findings.level.or(findings.ewma).map(|f| f.deviation);
                (DetectorKind::Forest, i, deviation, s)
            }
            (Some((kind, i, f)), None) => (kind, i, Some(f.deviation), f.surprise),
            (None, None) => (DetectorKind::ZScore, 0, None, 0.0),
        };
        let state = &self.metrics[metric];
        let value = features[metric].1;
        let baseline = match (detector, deviation) {
            // The step's baseline is the typical change: the value it expected is the
            // previous one plus that.
            (DetectorKind::Step, Some(d)) => {
                state.unscale(state.previous.unwrap_or(self.point[metric]) + d.baseline)
            }
            (_, Some(d)) => state.unscale(d.baseline),
            (_, None) => value,
        };
        Explanation {
            detector,
            metric: state.name.clone(),
            value,
            baseline,
            z: deviation.map_or(0.0, |d| d.z),
            surprise,
        }
    }

    /// The novelty detector's score: its most surprising metric's, `None` while it warms up.
    fn novelty_score(&self, config: &DetectorConfig) -> Option<f64> {
        self.findings
            .iter()
            .filter_map(|f| f.novelty)
            .map(|f| (f.surprise / config.novelty.max_surprise).min(1.0))
            .reduce(f64::max)
    }

    /// The seasonal detector's score: its most surprising metric's, `None` while it warms up.
    fn seasonal_score(&self, config: &DetectorConfig) -> Option<f64> {
        self.findings
            .iter()
            .filter_map(|f| f.seasonal)
            .map(|f| (f.surprise / config.seasonal.max_surprise).min(1.0))
            .reduce(f64::max)
    }

    /// The most surprising seasonal finding: the value against its hour of the week's mean.
    fn explain_seasonal(&self, features: &[(&str, f64)]) -> Explanation {
        let best = self
            .findings
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i, f.seasonal?)))
            .max_by(|a, b| a.1.surprise.total_cmp(&b.1.surprise));
        let (metric, baseline, z, surprise) = match best {
            Some((i, f)) => (i, self.metrics[i].unscale(f.baseline), f.z, f.surprise),
            None => (0, features.first().map_or(0.0, |f| f.1), 0.0, 0.0),
        };
        let state = &self.metrics[metric];
        Explanation {
            detector: DetectorKind::Seasonal,
            metric: state.name.clone(),
            value: features[metric].1,
            baseline,
            z,
            surprise,
        }
    }

    /// The most surprising novelty: the value against the nearest bin the series visited.
    fn explain_novelty(&self, features: &[(&str, f64)]) -> Explanation {
        let (metric, finding) = self
            .findings
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i, f.novelty?)))
            .max_by(|a, b| a.1.surprise.total_cmp(&b.1.surprise))
            .unwrap_or((
                0,
                NoveltyFinding {
                    novel: false,
                    surprise: 0.0,
                    baseline: self.point.first().copied().unwrap_or(0.0),
                    bins: 0.0,
                    new_transition: false,
                },
            ));
        let state = &self.metrics[metric];
        Explanation {
            detector: DetectorKind::Novelty,
            metric: state.name.clone(),
            value: features[metric].1,
            baseline: state.unscale(finding.baseline),
            z: finding.bins,
            surprise: finding.surprise,
        }
    }

    /// How far metric `i`'s value is from its baseline, for naming the forest's metric.
    fn distance(&self, i: usize) -> f64 {
        let f = &self.findings[i];
        f.level.or(f.ewma).map_or(0.0, |f| f.deviation.z.abs())
    }

    /// Retrains the forest now; false without a forest or with fewer than two points.
    pub(crate) fn retrain(&mut self, config: &ForestConfig, scratch: &mut TrainingScratch) -> bool {
        self.forest
            .as_mut()
            .is_some_and(|f| f.forest.retrain(config, scratch))
    }

    /// Writes what the series has learned: its metrics' names, each detector's state, the
    /// counters and the outage. The scratch of the current point is not state.
    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.usize(self.metrics.len());
        for metric in &self.metrics {
            out.str(&metric.name);
        }
        for metric in &self.metrics {
            out.option(metric.level.as_ref(), |out, level| level.save(out));
            out.option(metric.step.as_ref(), |out, step| step.save(out));
            out.option(metric.ewma.as_ref(), |out, ewma| ewma.save(out));
            out.option(metric.novelty.as_ref(), |out, novelty| novelty.save(out));
            out.option(metric.seasonal.as_ref(), |out, seasonal| seasonal.save(out));
            out.option(metric.previous, Writer::f64);
        }
        out.option(self.forest.as_deref(), |out, forest| {
            forest.forest.save(out);
            forest.calibration.save(out);
        });
        out.usize(self.seen);
        out.option(self.last_timestamp, |out, at| {
            out.i64(at.timestamp());
            out.u32(at.timestamp_subsec_nanos());
        });
        self.outage.save(out);
        self.habits.save(out);
    }

    /// The series `series` as [`save`](Self::save) wrote it, under the same configuration:
    /// a new state for its metrics, with what each detector learned read back into it.
    pub(crate) fn from_saved(
        config: &DetectorConfig,
        series: &str,
        from: &mut Reader<'_>,
        scratch: &mut TrainingScratch,
    ) -> Result<Self, Unreadable> {
        let count = from.usize()?;
        if count == 0 || count > config.max_metrics {
            return Err(Unreadable(
                "a series of no metrics, or of more than max_metrics",
            ));
        }
        let features = (0..count)
            .map(|_| Ok((from.str(MAX_SAVED_NAME)?, 0.0)))
            .collect::<Result<Vec<_>, Unreadable>>()?;
        let mut state = SeriesState::new(config, series, &features);
        for metric in &mut state.metrics {
            from.part(metric.level.as_mut(), Saved::load)?;
            from.part(metric.step.as_mut(), Saved::load)?;
            from.part(metric.ewma.as_mut(), Saved::load)?;
            from.part(metric.novelty.as_mut(), |novelty, from| {
                novelty.load(from, &config.novelty)
            })?;
            from.part(metric.seasonal.as_mut(), |seasonal, from| {
                seasonal.load(from, &config.seasonal)
            })?;
            metric.previous = from.option(Reader::f64)?;
        }
        from.part(state.forest.as_deref_mut(), |forest, from| {
            forest.forest.load(from, &config.forest, scratch)?;
            forest.calibration.load(from)
        })?;
        state.seen = from.usize()?;
        state.last_timestamp = from.option(|from| {
            let (seconds, nanos) = (from.i64()?, from.u32()?);
            Utc.timestamp_opt(seconds, nanos)
                .single()
                .ok_or(Unreadable("a timestamp out of range"))
        })?;
        state.outage = Outage::load(from)?;
        state.habits = Habits::load(from)?;
        Ok(state)
    }

    pub(crate) fn has_trained_forest(&self) -> bool {
        self.forest.as_ref().is_some_and(|f| f.forest.is_trained())
    }

    pub(crate) fn metric_count(&self) -> usize {
        self.metrics.len()
    }

    /// Upper bound of the bytes of a series of `metrics` metrics (names aside).
    pub(crate) fn bytes_for(metrics: usize, config: &DetectorConfig) -> usize {
        let dims = forest_dims(metrics, &config.forest);
        let forest = if has_forest(metrics, &config.forest) {
            std::mem::size_of::<ForestState>() + OnlineForest::heap_bytes_for(dims, &config.forest)
        } else {
            0
        };
        // The calibrations' bins are inline in `MetricState` and `ForestState`.
        let per_metric = std::mem::size_of::<MetricState>()
            + std::mem::size_of::<MetricFindings>()
            + 2 * RollingZScore::bytes_for(config.zscore.window)
            + if config.novelty.enabled {
                Novelty::bytes_for(&config.novelty)
            } else {
                0
            }
            + if config.seasonal.enabled {
                Seasonal::bytes_for(&config.seasonal)
            } else {
                0
            };
        std::mem::size_of::<Self>()
            + metrics * per_metric
            + dims * std::mem::size_of::<f64>()
            + forest
    }
}
