//! The Earth-observation example (`examples/ndvi`) on a real server and real containers:
//! its three static Rust steps built `FROM scratch` by its build.sh, its run.sh (the recipe
//! and the Part 3 nested execute, checked against the sample's numbers), and here, on our
//! own: the nested chain with another threshold, each step a job of its own, the
//! geo-referencing of the input carried to the step outputs, and a bad raster failing the
//! recipe with the step's declared error; and run-remote.sh, its ndvi step on a second
//! instance.

use crate::app::{spawn_app_with, TestApp};
use crate::support::repo_root;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "ndvi-admin-token";

/// Builds the three step images once per test process with the example's build.sh (the
/// steps' cargo build is cached under target/examples-ndvi).
fn ndvi_images() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let output = std::process::Command::new("bash")
            .arg(repo_root().join("examples/ndvi/build.sh"))
            .env("ADES", env!("CARGO_BIN_EXE_ades"))
            .output()
            .expect("run examples/ndvi/build.sh");
        assert!(
            output.status.success(),
            "examples/ndvi/build.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

async fn ndvi_app() -> TestApp {
    ndvi_images();
    spawn_app_with(|settings| {
        settings.auth.admin_token = TOKEN.to_string();
    })
    .await
}

/// The summary the sample (examples/ndvi/src/bin/make-sample.rs) must give for
/// `threshold`, worked out from its four land bands, not from any step: (pixels, red,
/// NIR) per band, the 8x8 no-data corner taken from the water; the steps compute the NDVI
/// in float32.
fn expected_summary(threshold: f32) -> Value {
    let bands = [
        (16 * 64 - 64, 600.0f32, 300.0f32),
        (16 * 64, 1800.0, 2200.0),
        (16 * 64, 800.0, 2400.0),
        (16 * 64, 400.0, 3600.0),
    ];
    let ndvi: Vec<(u64, f32)> = bands
        .iter()
        .map(|&(n, red, nir)| (n, (nir - red) / (nir + red)))
        .collect();
    let valid: u64 = ndvi.iter().map(|(n, _)| n).sum();
    let above: u64 = ndvi
        .iter()
        .filter(|(_, v)| *v > threshold)
        .map(|(n, _)| n)
        .sum();
    let values = || ndvi.iter().map(|&(_, v)| f64::from(v));
    let sum: f64 = ndvi.iter().map(|&(n, v)| n as f64 * f64::from(v)).sum();
    json!({
        "VALID_PIXELS": valid,
        "ABOVE_PIXELS": above,
        "FRACTION_ABOVE": above as f64 / valid as f64,
        "NDVI_MIN": values().fold(f64::INFINITY, f64::min),
        "NDVI_MAX": values().fold(f64::NEG_INFINITY, f64::max),
        "NDVI_MEAN": sum / valid as f64,
    })
}

fn assert_summary(got: &Value, threshold: f32) {
    let expected = expected_summary(threshold);
    for (key, want) in expected.as_object().unwrap() {
        let value = got[key].as_f64().unwrap_or(f64::NAN);
        assert!(
            (value - want.as_f64().unwrap()).abs() < 1e-6,
            "{key}: {value}, expected {want}, in {got:#}"
        );
    }
}

#[tokio::test]
async fn the_ndvi_example_runs_as_a_recipe_and_as_a_nested_execute() {
    let app = ndvi_app().await;
    let script = repo_root().join("examples/ndvi/run.sh");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("B", address)
            .env("TOKEN", TOKEN)
            .env("ADES", env!("CARGO_BIN_EXE_ades"))
            .env("SKIP_BUILD", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{stdout}");
    for expected in [
        "deploy: 201",
        "inputs: RED_NIR, THRESHOLD | outputs: summary.ABOVE_PIXELS, summary.FRACTION_ABOVE",
        "recipe: valid 4032, above 0.3 2048",
        "nested: valid 4032, above 0.3 2048",
        "summaries: as expected",
        "undeploy: 204",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    app.stop().await;
}

/// `examples/ndvi/run-remote.sh` on two instances: A runs the recipe and the nested
/// request, and calls B, configured as `[remotes.b]`, for every ndvi step.
#[tokio::test(flavor = "multi_thread")]
async fn the_ndvi_example_runs_with_its_ndvi_step_on_another_instance() {
    ndvi_images();
    let b = spawn_app_with(|_| {}).await;
    let url = b.address.clone();
    let a = spawn_app_with(move |settings| {
        settings.auth.admin_token = TOKEN.to_string();
        settings.queue.allow_private_urls = true;
        settings.remotes.insert(
            "b".to_string(),
            ades::config::RemoteSection {
                url,
                poll_seconds: 0.2,
                max_poll_seconds: 1.0,
                ..Default::default()
            },
        );
    })
    .await;
    let script = repo_root().join("examples/ndvi/run-remote.sh");
    let (a_address, b_address) = (a.address.clone(), b.address.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("A", a_address)
            .env("REMOTE", b_address)
            .env("TOKEN", TOKEN)
            .env("ADES", env!("CARGO_BIN_EXE_ades"))
            .env("SKIP_BUILD", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{stdout}");
    for expected in [
        "deploy: 201",
        "recipe: valid 4032, above 0.3 2048",
        "nested: valid 4032, above 0.3 2048",
        "summaries: as expected",
        "undeploy: 204",
        // One for the recipe's ndvi node, two for the nested request's ndvi executions.
        "ndvi jobs on the remote: 3",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    // A's three ndvi steps each followed a job on B rather than running a container.
    let local: Value = a
        .client
        .get(a.url("/jobs?processID=ndvi"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages: Vec<&str> = local["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(messages, ["remote b: successful"; 3], "{local:#}");
    a.stop().await;
    b.stop().await;
}

async fn job(app: &TestApp, id: &str) -> Value {
    let response = app.client.get(app.url(&format!("/jobs/{id}"))).send();
    response.await.unwrap().json().await.unwrap()
}

async fn wait_final(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = job(app, id).await;
        if ["successful", "failed", "dismissed"].contains(&status["status"].as_str().unwrap_or(""))
        {
            return status;
        }
        assert!(Instant::now() < deadline, "not final in time: {status:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Step name -> job id, from a workflow job's `urn:ades:rel:step` links.
fn step_jobs(status: &Value) -> Vec<(String, String)> {
    let links = status["links"].as_array().unwrap();
    let mut steps: Vec<(String, String)> = links
        .iter()
        .filter(|l| l["rel"] == "urn:ades:rel:step")
        .map(|l| {
            let title = l["title"].as_str().unwrap();
            let name = title.trim_start_matches("Step ").split(' ').next().unwrap();
            let id = l["href"].as_str().unwrap().rsplit('/').next().unwrap();
            (name.to_string(), id.to_string())
        })
        .collect();
    steps.sort();
    steps
}

/// The raw value bytes of `tag` in the first image directory of a little-endian TIFF,
/// read by hand (not with the crate the steps use): its type, count and value, inline or
/// at its offset.
fn tiff_tag(file: &[u8], tag: u16) -> Option<Vec<u8>> {
    assert_eq!(&file[..4], b"II*\0", "a little-endian classic TIFF");
    let u16_at = |at: usize| u16::from_le_bytes([file[at], file[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    let directory = u32_at(4);
    (0..usize::from(u16_at(directory))).find_map(|i| {
        let entry = directory + 2 + 12 * i;
        (u16_at(entry) == tag).then(|| {
            let size = match u16_at(entry + 2) {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 => 4,
                _ => 8,
            };
            let length = size * u32_at(entry + 4);
            let start = if length <= 4 {
                entry + 8
            } else {
                u32_at(entry + 8)
            };
            file[start..start + length].to_vec()
        })
    })
}

#[tokio::test]
async fn the_nested_chain_keeps_the_place_of_its_input_and_its_numbers() {
    let app = ndvi_app().await;
    // The example's request with another threshold: 0.05 puts the soil above it too.
    let text =
        std::fs::read_to_string(repo_root().join("examples/ndvi/nested-execute.json")).unwrap();
    let mut request: Value = serde_json::from_str(&text).unwrap();
    request["inputs"]["MASK"]["inputs"]["THRESHOLD"] = json!(0.05);
    let response = app
        .client
        .post(app.url("/processes/ndvi-summary/execution"))
        .header("Prefer", "respond-async")
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body:#}");
    let id = body["jobID"].as_str().unwrap().to_string();
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let results: Value = app
        .client
        .get(app.url(&format!("/jobs/{id}/results")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_summary(&results, 0.05);
    assert_eq!(results["ABOVE_PIXELS"], 3 * 16 * 64, "{results:#}");

    // One job per execution in the request: ndvi twice (Part 3 nests a tree).
    let steps = step_jobs(&done);
    let names: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["main", "main-MASK", "main-MASK-NDVI", "main-NDVI"],
        "{done:#}"
    );

    // Each raster step wrote its result where the input lies: the GeoTIFF tags of the
    // sample (pixel scale, tie point, key directory) are in the NDVI and the mask.
    let sample = std::fs::read(repo_root().join("examples/ndvi/sample/red-nir.tif")).unwrap();
    for (step, file) in [("main-NDVI", "ndvi.tif"), ("main-MASK", "mask.tif")] {
        let step_id = &steps.iter().find(|(name, _)| name == step).unwrap().1;
        let response = app
            .client
            .get(app.url(&format!("/jobs/{step_id}/outputs/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{step} {file}");
        let raster = response.bytes().await.unwrap();
        for tag in [33550, 33922, 34735] {
            let kept = tiff_tag(&raster, tag);
            assert!(kept.is_some(), "{step}: tag {tag} missing");
            assert_eq!(kept, tiff_tag(&sample, tag), "{step}: tag {tag}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_raster_that_is_not_red_and_nir_fails_the_recipe_with_the_steps_error() {
    let app = ndvi_app().await;
    let mut recipe: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/ndvi/recipe.json")).unwrap(),
    )
    .unwrap();
    let name = crate::deploy::unique("ndvi-bad");
    recipe["name"] = json!(name);
    let deployed = app
        .client
        .post(app.url("/processes"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/vnd.ades.recipe+json")
        .body(recipe.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), StatusCode::CREATED);
    let response = app
        .client
        .post(app.url(&format!("/processes/{name}/execution")))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"RED_NIR": {"value": "bm90IGEgcmFzdGVy", "encoding": "base64", "mediaType": "image/tiff"}}}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let id = body["jobID"].as_str().expect("a job").to_string();
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "failed", "{done:#}");
    let message = done["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ndvi"),
        "the failed step is named: {done:#}"
    );
    let steps = step_jobs(&done);
    let names: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["ndvi"],
        "no step after the failed one ran: {done:#}"
    );
    let step = job(&app, &steps[0].1).await;
    assert_eq!(step["status"], "failed", "{step:#}");
    assert!(
        step.to_string().contains("Invalid input"),
        "the step's declared error: {step:#}"
    );
    app.stop().await;
}

/// The sample's pixels (make-sample.rs) written band-interleaved (`PlanarConfiguration`
/// 2: all red, then all NIR) and uncompressed, by hand: a layout the sample does not have.
fn band_interleaved_sample() -> Vec<u8> {
    const SIZE: usize = 64;
    let mut red = Vec::new();
    let mut nir = Vec::new();
    for row in 0..SIZE {
        let (r, n): (u16, u16) = [(600, 300), (1800, 2200), (800, 2400), (400, 3600)][row / 16];
        for column in 0..SIZE {
            let texture = 1 + (column % 4) as u16;
            let no_data = row < 8 && column < 8;
            red.push(if no_data { 0 } else { r * texture });
            nir.push(if no_data { 0 } else { n * texture });
        }
    }
    let plane = (SIZE * SIZE * 2) as u32;
    // (tag, type: 3 SHORT or 4 LONG, values), in tag order, all fitting the entry but the
    // two-value SHORTs and LONGs, which go after the directory.
    let entries: [(u16, u16, Vec<u32>); 11] = [
        (256, 3, vec![SIZE as u32]),
        (257, 3, vec![SIZE as u32]),
        (258, 3, vec![16, 16]),
        (259, 3, vec![1]),
        (262, 3, vec![1]),
        (273, 4, vec![8, 8 + plane]),
        (277, 3, vec![2]),
        (278, 3, vec![SIZE as u32]),
        (279, 4, vec![plane, plane]),
        (284, 3, vec![2]),
        (338, 3, vec![0]),
    ];
    let directory = 8 + 2 * plane;
    let mut after = directory + 2 + 12 * entries.len() as u32 + 4;
    let mut file = b"II*\0".to_vec();
    file.extend(directory.to_le_bytes());
    file.extend(red.iter().chain(&nir).flat_map(|v| v.to_le_bytes()));
    file.extend((entries.len() as u16).to_le_bytes());
    let mut outside = Vec::new();
    for (tag, kind, values) in &entries {
        file.extend(tag.to_le_bytes());
        file.extend(kind.to_le_bytes());
        file.extend((values.len() as u32).to_le_bytes());
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|&v| match kind {
                3 => (v as u16).to_le_bytes().to_vec(),
                _ => v.to_le_bytes().to_vec(),
            })
            .collect();
        if bytes.len() <= 4 {
            let mut inline = bytes.clone();
            inline.resize(4, 0);
            file.extend(inline);
        } else {
            file.extend(after.to_le_bytes());
            after += bytes.len() as u32;
            outside.extend(bytes);
        }
    }
    file.extend(0u32.to_le_bytes());
    file.extend(outside);
    file
}

#[tokio::test]
async fn a_band_interleaved_raster_gives_the_same_numbers() {
    use base64::Engine;
    let app = ndvi_app().await;
    let text =
        std::fs::read_to_string(repo_root().join("examples/ndvi/nested-execute.json")).unwrap();
    let mut request: Value = serde_json::from_str(&text).unwrap();
    let raster = json!({
        "value": base64::engine::general_purpose::STANDARD.encode(band_interleaved_sample()),
        "encoding": "base64",
        "mediaType": "image/tiff"
    });
    request["inputs"]["NDVI"]["inputs"]["RED_NIR"] = raster.clone();
    request["inputs"]["MASK"]["inputs"]["NDVI"]["inputs"]["RED_NIR"] = raster;
    let response = app
        .client
        .post(app.url("/processes/ndvi-summary/execution"))
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let results: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{results:#}");
    assert_summary(&results, 0.3);
    app.stop().await;
}
