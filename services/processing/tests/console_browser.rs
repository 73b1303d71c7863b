//! The operator console in a real browser (headless Chromium driven through chromedriver),
//! on the three services fed with the field sample and a burst of failures of one source:
//! the fleet shows the six sources, the failing one first; the incident page shows its
//! evidence; acknowledging it changes its state, and a second browser session sees the
//! change by itself; the trace, pipeline and logs pages show what they read. A screenshot
//! of each page goes to `target/console-screenshots/` on every run.
//!
//! Chromium and chromedriver come from `scripts/install-browser.sh` (run by `make test`).
//! Without them the test fails under CI (`CI=true`) and says it did not run elsewhere.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use obs_kafka::StageConfig;
use processing::console::ConsoleConfig;
use processing::{AppState, ProcessingConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);
const SCREENSHOTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/console-screenshots"
);
const COMPANY: &str = "akonovia";
/// The burst's source, as connectors write it and as standardization slugs it.
const SOURCE: &str = "Efficy";
const SOURCE_SLUG: &str = "efficy";
const BURST_OBJECTS: [i64; 4] = [1014, 1015, 1016, 1017];
/// How long a page may take to show what is awaited (it refreshes every 3 s).
const PAGE_WAIT: Duration = Duration::from_secs(20);

/// The three services, each on a port of its own, on the real broker with fresh topics.
struct Stack {
    _topics: obs_testkit::TestTopics,
    kafka: obs_kafka::KafkaConfig,
    ingestion: String,
    standardization: Arc<standardization::AppState>,
    processing: Arc<AppState>,
    console: String,
}

impl Stack {
    async fn start() -> Self {
        let topics = obs_testkit::unique_topics();
        let kafka = obs_testkit::kafka();
        obs_kafka::topics::ensure_topics(&kafka, "console-test", &topics)
            .await
            .unwrap();
        let ingestion = serve(ingestion::router(
            ingestion::AppState::new(ingestion::IngestionConfig {
                kafka: kafka.clone(),
                topics: topics.clone(),
                auth: obs_testkit::auth(),
                ..ingestion::IngestionConfig::default()
            })
            .unwrap(),
        ))
        .await;
        let standardization =
            standardization::AppState::new(standardization::StandardizationConfig {
                kafka: kafka.clone(),
                topics: topics.clone(),
                stage: stage_config(&topics, "standardization"),
                auth: obs_testkit::auth(),
                ..standardization::StandardizationConfig::default()
            })
            .unwrap();
        standardization.start_stage().unwrap();
        standardization.start_log_stage().unwrap();
        let standardization_url = serve(standardization::router(standardization.clone())).await;
        let processing = AppState::new(ProcessingConfig {
            kafka,
            topics: topics.clone(),
            stage: stage_config(&topics, "processing"),
            console: ConsoleConfig {
                ingestion_url: ingestion.clone(),
                standardization_url,
                ..ConsoleConfig::default()
            },
            auth: obs_testkit::auth(),
            ..ProcessingConfig::default()
        })
        .unwrap();
        processing.start().unwrap();
        let console = serve(processing::router(processing.clone())).await;
        Stack {
            kafka: obs_testkit::kafka(),
            _topics: topics,
            ingestion,
            standardization,
            processing,
            console,
        }
    }

    async fn ingest(&self, path: &str, body: String) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.ingestion))
            .header("authorization", obs_testkit::bearer())
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "{path}: {:?}",
            response.text().await
        );
    }

    /// Feeds the field sample, a failure burst of one source and two log events about it;
    /// the id of the source-wide incident the burst opens, once its evidence shows them.
    async fn feed_the_sample_and_a_burst(&self) -> String {
        self.ingest("/ingest/batch", std::fs::read_to_string(SEED).unwrap())
            .await;
        let burst: Vec<String> = BURST_OBJECTS
            .iter()
            .enumerate()
            .map(|(i, &object)| run(object, 50 + i as u32))
            .collect();
        self.ingest("/ingest/batch", burst.join("\n")).await;
        let events = [
            log_event("efficy API answered 503", "2025-09-05T16:52:00Z"),
            log_event("efficy token refresh failed", "2025-09-05T16:40:00Z"),
        ];
        self.ingest("/log", events.join("\n")).await;
        let listing = self
            .wait_for(
                &format!("/incidents?source={SOURCE_SLUG}&company={COMPANY}&status=open"),
                "the burst's source-wide incident",
                |answer| {
                    answer["incidents"].as_array().is_some_and(|list| {
                        list.iter().any(|i| {
                            i["scope"]["kind"] == "source"
                                && BURST_OBJECTS.iter().all(|o| {
                                    i["objects"]
                                        .as_array()
                                        .is_some_and(|a| a.contains(&json!(o)))
                                })
                        })
                    })
                },
            )
            .await;
        let id = listing["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["scope"]["kind"] == "source")
            .and_then(|i| i["id"].as_str())
            .unwrap()
            .to_owned();
        self.wait_for(&format!("/incidents/{id}"), "the log events", |a| {
            a["incident"]["evidence"]["log_events"]
                .as_array()
                .is_some_and(|e| e.len() >= 2)
        })
        .await;
        id
    }

    /// Polls a processing endpoint until `done` holds of its answer.
    async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let answer = reqwest::Client::new()
                .get(format!("{}{path}", self.console))
                .header("authorization", obs_testkit::bearer())
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap_or(Value::Null);
            if done(&answer) {
                return answer;
            }
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "timed out waiting for {what}: {answer:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(self) {
        tokio::task::spawn_blocking(move || {
            self.processing.stop().unwrap();
            self.standardization.stop_stage().unwrap();
            self.standardization.stop_log_stage().unwrap();
        })
        .await
        .unwrap();
    }
}

/// Serves `router` on a free port of the loopback; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn stage_config(topics: &obs_testkit::TestTopics, group: &str) -> StageConfig {
    let group = format!("{group}-{}", topics.raw_logs.name);
    StageConfig {
        batch_max_ms: 50,
        transaction_timeout_ms: 10_000,
        transactional_id: format!("{group}-a"),
        ..StageConfig::for_group(&group)
    }
}

/// A run of the burst's source, from the field sample's first Efficy row.
fn run(object_id: i64, minute: u32) -> String {
    let mut run = std::fs::read_to_string(SEED)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["Source"] == SOURCE)
        .unwrap();
    run["No_Sequence"] = format!("2025-09-05-16-{minute:02}").into();
    run["Minute_Sequence"] = format!("{minute:02}").into();
    run["Objet_Id"] = object_id.into();
    run["Debut"] = format!("05-09-2025 16:{minute:02}:10.000000").into();
    run["Fin"] = format!("05-09-2025 16:{minute:02}:18.774434").into();
    run["Duree secondes"] = 8.774434.into();
    run["Etat"] = "FAILED".into();
    run["Description"] = "Erreur: HTTPSConnectionPool read timed out".into();
    run.to_string()
}

fn log_event(message: &str, at: &str) -> String {
    json!({
        "message": message,
        "service": "connector-runner",
        "level": "error",
        "timestamp": at,
        "attributes": { "company": COMPANY, "source": SOURCE },
    })
    .to_string()
}

/// A program on the `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver on a free port, in a process group of its own so that the browsers it
/// starts go with it.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    /// `None` (the test does not run) only outside CI when the browser is missing.
    fn start() -> Option<Driver> {
        let found = on_path(&["chromedriver"]).zip(on_path(&["chromium", "chromium-browser"]));
        let Some((chromedriver, chromium)) = found else {
            let message = "chromium and chromedriver are needed: run scripts/install-browser.sh";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("console_browser: NOT RUN: {message}");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            0,
        )
        .spawn()
        .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        })
    }

    /// A browser session of its own (its own profile): a second operator.
    async fn session(&self) -> Client {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1366,900"],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs `script` in the page until `done` holds of what it returns.
async fn eventually(
    browser: &Client,
    what: &str,
    script: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let value = browser.execute(script, Vec::new()).await.unwrap();
        if done(&value) {
            return value;
        }
        if started.elapsed() > PAGE_WAIT {
            let text = browser
                .execute("return document.body.innerText", Vec::new())
                .await
                .unwrap_or_default();
            panic!("the page did not show {what}: {value}\n--- page text:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A stack fed with the field sample and a failure burst (the burst's incident id), and a
/// browser session on its console's fleet page, without a key yet.
async fn open_console(driver: &Driver) -> (Stack, String, Client) {
    let stack = Stack::start().await;
    let id = stack.feed_the_sample_and_a_burst().await;
    let browser = driver.session().await;
    browser
        .goto(&format!("{}/console/", stack.console))
        .await
        .unwrap();
    (stack, id, browser)
}

/// Enters the test key in the console's key form (the page reloads with it).
async fn sign_in(browser: &Client) {
    let input = browser.find(Locator::Id("api-key")).await.unwrap();
    input.send_keys(obs_testkit::TEST_TOKEN).await.unwrap();
    browser
        .find(Locator::Css("#key-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let kept = eventually(
        browser,
        "the key kept",
        "return document.readyState === 'complete' && localStorage.getItem('obs-console-api-key');",
        |v| v.is_string(),
    )
    .await;
    assert_eq!(kept, obs_testkit::TEST_TOKEN);
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::create_dir_all(SCREENSHOTS).unwrap();
    std::fs::write(Path::new(SCREENSHOTS).join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element `css` selects ("" when none).
fn text_of(css: &str) -> String {
    format!("const e = document.querySelector({css:?}); return e ? e.innerText : '';")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_fleet_and_an_incident_and_acknowledging_it_reaches_every_viewer() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let (stack, id, browser) = open_console(&driver).await;
    // Without a key the console's APIs refuse; the key form keeps one in the browser.
    let refused = browser
        .execute(
            "return fetch('/console/api/fleet').then(r => r.status);",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(refused, 401);
    sign_in(&browser).await;

    // The fleet: `/` leads to it; six sources, the failing one first.
    browser.goto(&format!("{}/", stack.console)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/console/");
    let tiles = eventually(
        &browser,
        "the six sources",
        "return [...document.querySelectorAll('#fleet > .tile')].map(t => [t.dataset.source, t.className]);",
        |v| v.as_array().is_some_and(|t| t.len() == 6),
    )
    .await;
    assert_eq!(
        tiles[0][0], SOURCE_SLUG,
        "the failing source first: {tiles}"
    );
    assert!(
        tiles[0][1].as_str().unwrap().contains("health-failing"),
        "{tiles}"
    );
    let first = browser
        .execute(&text_of("#fleet > .tile"), Vec::new())
        .await
        .unwrap();
    let first = first.as_str().unwrap();
    assert!(
        first.contains("failing") && first.contains("1014"),
        "{first}"
    );
    screenshot(&browser, "fleet").await;

    // A deep link keeps its filter.
    browser
        .goto(&format!("{}/console/?source={SOURCE_SLUG}", stack.console))
        .await
        .unwrap();
    eventually(
        &browser,
        "the one source of the filter",
        "return [document.querySelectorAll('#fleet > .tile').length, document.querySelector('#source').value];",
        |v| v == &json!([1, SOURCE_SLUG]),
    )
    .await;

    // The incidents of the source, then the incident with its evidence.
    browser
        .goto(&format!(
            "{}/console/incidents?source={SOURCE_SLUG}",
            stack.console
        ))
        .await
        .unwrap();
    let link = format!("a[data-incident=\"{id}\"]");
    eventually(
        &browser,
        "the incident in the list",
        &format!("return document.querySelectorAll({link:?}).length;"),
        |v| v == 1,
    )
    .await;
    screenshot(&browser, "incidents").await;
    browser
        .find(Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let evidence = eventually(
        &browser,
        "the incident's evidence",
        "return [document.querySelector('#incident-status')?.dataset.status,
                 document.querySelector('#runs')?.innerText || '',
                 document.querySelector('#log-events')?.innerText || '',
                 document.querySelectorAll('#alerts tbody tr').length,
                 Array.from(document.querySelectorAll('#alerts .why'), (w) => w.innerText).join('|')];",
        |v| v[0] == "open" && v[3].as_u64().is_some_and(|n| n > 0),
    )
    .await;
    let runs = evidence[1].as_str().unwrap();
    for object in BURST_OBJECTS {
        assert!(
            runs.contains(&object.to_string()),
            "run of {object}: {runs}"
        );
    }
    assert!(
        evidence[2]
            .as_str()
            .unwrap()
            .contains("efficy API answered 503"),
        "{evidence}"
    );
    // Each alert says why in one sentence, with since when; a failure also how often the
    // object fails.
    let whys: Vec<&str> = evidence[4].as_str().unwrap().split('|').collect();
    assert_eq!(
        whys.len() as u64,
        evidence[3].as_u64().unwrap(),
        "{evidence}"
    );
    assert!(whys.iter().all(|w| w.contains("since")), "{evidence}");
    assert!(
        whys.iter()
            .any(|w| w.contains("FAILED") && w.contains("fails in")),
        "{evidence}"
    );
    screenshot(&browser, "incident").await;

    // A second operator has the same incident open.
    let other = driver.session().await;
    let page = browser.current_url().await.unwrap();
    other.goto(page.as_str()).await.unwrap();
    sign_in(&other).await;
    let status = "return document.querySelector('#incident-status')?.dataset.status || '';";
    eventually(&other, "the open incident", status, |v| v == "open").await;

    // The first acknowledges it, with a name and a note.
    let by = browser.find(Locator::Id("by")).await.unwrap();
    by.clear().await.unwrap();
    by.send_keys("alice").await.unwrap();
    browser
        .find(Locator::Id("note"))
        .await
        .unwrap()
        .send_keys("looking at the API")
        .await
        .unwrap();
    browser
        .find(Locator::Id("acknowledge"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(&browser, "the acknowledgement", status, |v| {
        v == "acknowledged"
    })
    .await;
    let said = browser
        .execute(&text_of("#action-result"), Vec::new())
        .await
        .unwrap();
    assert!(
        said.as_str().unwrap().contains("Acknowledged by alice"),
        "{said}"
    );
    // The second sees it by itself, at its next refresh.
    eventually(&other, "the acknowledgement by alice", status, |v| {
        v == "acknowledged"
    })
    .await;
    let state = other
        .execute(&text_of("#incident-state"), Vec::new())
        .await
        .unwrap();
    assert!(
        state
            .as_str()
            .unwrap()
            .contains("Acknowledged by alice — “looking at the API”"),
        "{state}"
    );
    screenshot(&other, "incident-acknowledged").await;
    other.close().await.unwrap();

    // A record written to raw-logs as ingestion writes it (its headers) but whose bytes are
    // not JSON: standardization dead-letters it, and its trace shows why.
    let bad_id = "akonovia:2025-09-05-17-00:9999";
    let headers = obs_kafka::RecordHeaders {
        record_id: bad_id.into(),
        schema_version: obs_records::RAW_SCHEMA_VERSION.into(),
        content_type: "application/json".into(),
        ingested_at: chrono::Utc::now(),
        traceparent: obs_kafka::TraceParent::new_root(),
    };
    let raw_topic = stack._topics.raw_logs.name.clone();
    let kafka = stack.kafka.clone();
    tokio::task::spawn_blocking(move || {
        obs_testkit::produce(
            &kafka,
            &raw_topic,
            vec![(None, b"{\"No_Sequence\": ".to_vec(), headers.to_kafka())],
        )
    })
    .await
    .unwrap();
    browser
        .goto(&format!("{}/console/trace/{bad_id}", stack.console))
        .await
        .unwrap();
    eventually(
        &browser,
        "the dead-lettered record's stages and reason",
        "const rows = [...document.querySelectorAll('#stages tbody tr')]; return [rows.map(r => r.cells[0].textContent.trim()).join(' '), document.querySelector('#stages') ? document.querySelector('#stages').textContent : ''];",
        |v| {
            let stages = v[0].as_str().unwrap_or_default();
            let text = v[1].as_str().unwrap_or_default();
            stages.contains("ingested")
                && stages.contains("dead")
                && text.contains("malformed_json")
        },
    )
    .await;
    screenshot(&browser, "trace-dead-lettered").await;

    // The trace search: a record the indexes do not hold says so.
    browser
        .goto(&format!("{}/console/trace", stack.console))
        .await
        .unwrap();
    browser
        .find(Locator::Id("record-id"))
        .await
        .unwrap()
        .send_keys("no-such-record")
        .await
        .unwrap();
    browser
        .find(Locator::Css("#trace-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        &browser,
        "that the record is unknown",
        &text_of("#trace-result"),
        |v| {
            v.as_str()
                .is_some_and(|t| t.contains("No trace of record no-such-record"))
        },
    )
    .await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        "/console/trace/no-such-record"
    );
    screenshot(&browser, "trace").await;

    // The pipeline: the three services, each reachable, with their counts.
    browser
        .goto(&format!("{}/console/pipeline", stack.console))
        .await
        .unwrap();
    eventually(
        &browser,
        "the three services",
        "return [...document.querySelectorAll('.service')].map(s => s.dataset.service + ':' + s.dataset.reachable);",
        |v| {
            v == &json!([
                "ingestion:true",
                "standardization:true",
                "processing:true"
            ])
        },
    )
    .await;
    screenshot(&browser, "pipeline").await;

    // The logs, searched by text from the URL.
    browser
        .goto(&format!("{}/console/logs?q=efficy", stack.console))
        .await
        .unwrap();
    eventually(
        &browser,
        "the two events",
        "return [document.querySelectorAll('#logs tbody tr').length, document.querySelector('#q').value];",
        |v| v == &json!([2, "efficy"]),
    )
    .await;
    screenshot(&browser, "logs").await;

    browser.close().await.unwrap();
    stack.stop().await;
}

/// Presses `keys` one after the other on whatever has the focus, as a person at the
/// keyboard does (WebDriver key actions: real key events, where an element's send-keys
/// would pick a select's option by its text, and could not leave it with Tab).
async fn press(browser: &Client, keys: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    browser.perform_actions(actions).await.unwrap();
}

/// Presses Tab until the focused element matches `css`, at most `limit` times, and
/// checks that the focus shows (an outline); `what` names the element for the failure.
async fn tab_to(browser: &Client, css: &str, what: &str, limit: usize) {
    let matches = format!("return document.activeElement.matches({css:?});");
    for _ in 0..limit {
        press(browser, &Key::Tab).await;
        if browser.execute(&matches, Vec::new()).await.unwrap() == json!(true) {
            let outline = browser
                .execute(
                    "return getComputedStyle(document.activeElement).outlineStyle;",
                    Vec::new(),
                )
                .await
                .unwrap();
            assert_ne!(outline, "none", "the focus on {what} does not show");
            return;
        }
    }
    let focused = browser
        .execute("return document.activeElement.outerHTML;", Vec::new())
        .await
        .unwrap();
    panic!("{what} ({css}) not reached with {limit} Tabs; the focus is on {focused}");
}

/// The console with the keyboard only: filters reached with Tab and typed into, links
/// followed with Enter, an incident acknowledged (name, note, button) without a mouse,
/// and a record traced from the search box. Every step is asserted from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_usable_with_the_keyboard_only() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let (stack, id, browser) = open_console(&driver).await;

    // Fleet: Tab to the source filter, choose a source with the arrow keys; the page shows
    // that one source and says so in its URL. (Typing a name into a select opens its list
    // in Chromium, at a moment of its own: the arrows are what a keyboard user relies on.)
    sign_in(&browser).await;
    eventually(
        &browser,
        "the six sources",
        "return document.querySelectorAll('#fleet > .tile').length;",
        |v| v == 6,
    )
    .await;
    tab_to(&browser, "#source", "the source filter", 16).await;
    let chosen = "return document.querySelector('#source').value;";
    for _ in 0..10 {
        if browser.execute(chosen, Vec::new()).await.unwrap() == SOURCE_SLUG {
            break;
        }
        press(&browser, &Key::Down).await;
    }
    eventually(
        &browser,
        "the one source chosen with the keyboard",
        "return [document.querySelectorAll('#fleet > .tile').length, location.search];",
        |v| v == &json!([1, format!("?source={SOURCE_SLUG}")]),
    )
    .await;
    // The tile's incident link, followed with Enter; the tiles refresh meanwhile, and the
    // focus must stay on the link through a refresh.
    let incident_link = format!("#fleet a[href=\"/console/incidents/{id}\"]");
    tab_to(&browser, &incident_link, "the tile's incident link", 12).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let still = format!("return document.activeElement.matches({incident_link:?});");
    assert_eq!(
        browser.execute(&still, Vec::new()).await.unwrap(),
        json!(true),
        "a refresh of the fleet took the focus off the link"
    );
    press(&browser, &Key::Enter).await;
    eventually(
        &browser,
        "the incident page, reached with Enter",
        "return location.pathname;",
        |v| v == &json!(format!("/console/incidents/{id}")),
    )
    .await;

    // Incidents: the company and source boxes typed into, Enter applies them; the
    // incident's link followed with Enter.
    browser
        .goto(&format!("{}/console/incidents", stack.console))
        .await
        .unwrap();
    tab_to(&browser, "#company", "the company filter", 12).await;
    press(&browser, COMPANY).await;
    tab_to(&browser, "#source", "the source filter", 1).await;
    press(&browser, SOURCE_SLUG).await;
    press(&browser, &Key::Enter).await;
    let link = format!("a[data-incident=\"{id}\"]");
    eventually(
        &browser,
        "the filtered list, in the URL",
        &format!("return [location.search, document.querySelectorAll({link:?}).length];"),
        |v| {
            v == &json!([
                format!("?status=open&company={COMPANY}&source={SOURCE_SLUG}"),
                1
            ])
        },
    )
    .await;
    tab_to(&browser, &link, "the incident's link", 20).await;
    press(&browser, &Key::Enter).await;
    let status = "return document.querySelector('#incident-status')?.dataset.status || '';";
    eventually(&browser, "the open incident", status, |v| v == "open").await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        format!("/console/incidents/{id}")
    );

    // Acknowledge: name, note, then the button, each reached with Tab.
    tab_to(&browser, "#by", "the name box", 12).await;
    press(&browser, "bob").await;
    tab_to(&browser, "#note", "the note box", 1).await;
    press(&browser, "on it, from the keyboard").await;
    tab_to(&browser, "#acknowledge", "the Acknowledge button", 1).await;
    press(&browser, &Key::Enter).await;
    eventually(&browser, "the acknowledgement", status, |v| {
        v == "acknowledged"
    })
    .await;
    let state = browser
        .execute(&text_of("#incident-state"), Vec::new())
        .await
        .unwrap();
    assert!(
        state
            .as_str()
            .unwrap()
            .contains("Acknowledged by bob — “on it, from the keyboard”"),
        "{state}"
    );
    // The button just used is disabled now: the focus goes to what came of it, not to
    // the top of the page.
    eventually(
        &browser,
        "the focus on the outcome",
        "return document.activeElement.id;",
        |v| v == "action-result",
    )
    .await;

    // Trace: the search box, typed into, Enter.
    browser
        .goto(&format!("{}/console/trace", stack.console))
        .await
        .unwrap();
    let record = format!("{COMPANY}:2025-09-05-16-50:{}", BURST_OBJECTS[0]);
    tab_to(&browser, "#record-id", "the record search box", 12).await;
    press(&browser, &record).await;
    press(&browser, &Key::Enter).await;
    eventually(
        &browser,
        "the burst run's trace, from the search box",
        "return [decodeURIComponent(location.pathname), [...document.querySelectorAll('#stages tbody tr')].map(r => r.cells[0].textContent.trim()).join(' ')];",
        |v| {
            v[0] == json!(format!("/console/trace/{record}"))
                && v[1].as_str().is_some_and(|s| s.contains("processed"))
        },
    )
    .await;
    screenshot(&browser, "keyboard-trace").await;

    browser.close().await.unwrap();
    stack.stop().await;
}
