//! One literal rule for every façade: the same literal text sent to the same typed input
//! through WPS 1.0.0 Execute, WPS 2.0 Execute and the OGC API gives the container the same
//! value, or is refused by all three (`ades::jobs::execute::typed_literal`). Real server
//! over HTTP, real containers: the job writes what it received to its output file.

use crate::app::{spawn_app, TestApp};
use crate::support::{ades, busybox_image};
use reqwest::StatusCode;
use serde_json::json;

const PROCESS: &str = "ades-it-literals";

/// A Seed image with one optional json input of each scalar type (`I` integer, `N`
/// number, `B` boolean, `S` string) whose job writes the values it received, one per
/// line, to its output file `RECEIVED` (an absent input is `unset`; the string in
/// brackets, so its spaces show).
fn literals_image() -> &'static str {
    static IMAGE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    IMAGE.get_or_init(|| {
        busybox_image();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM ades-busybox:latest\nCOPY run.sh /run.sh\nENTRYPOINT [\"/bin/sh\", \"/run.sh\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("run.sh"),
            "{ printf 'I=%s\\n' \"${I-unset}\"; printf 'N=%s\\n' \"${N-unset}\"; \
             printf 'B=%s\\n' \"${B-unset}\"; printf 'S=[%s]\\n' \"${S-unset}\"; } \
             > \"$OUTPUT_DIR/received.txt\"\n",
        )
        .unwrap();
        let optional = |name: &str, kind: &str| json!({"name": name, "type": kind, "required": false});
        let manifest = json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": PROCESS, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": "Literals", "description": "Writes the literal inputs it received",
                "maintainer": {"name": "ades", "email": "ades@example.org"},
                "timeout": 30,
                "interface": {
                    "inputs": {"json": [
                        optional("I", "integer"),
                        optional("N", "number"),
                        optional("B", "boolean"),
                        optional("S", "string"),
                    ]},
                    "outputs": {"files": [
                        {"name": "RECEIVED", "pattern": "received.txt", "mediaType": "text/plain"}
                    ]}
                }
            }
        });
        std::fs::write(
            dir.path().join("seed.manifest.json"),
            manifest.to_string(),
        )
        .unwrap();
        let built = ades(&["seed", "build", "--json", dir.path().to_str().unwrap()]);
        assert_eq!(built.code, 0, "{}", built.stderr);
    });
    "ades-it-literals-1.0.0-seed:1.0.0"
}

/// What a façade did with one literal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The job ran; the line of its output file for the input.
    Received(String),
    /// 400: the request was refused.
    Refused,
}

/// The outcome of a synchronous answer whose body is the `RECEIVED` file on success.
async fn outcome(response: reqwest::Response, input: &str, facade: &str) -> Outcome {
    let status = response.status();
    let body = response.text().await.unwrap();
    match status {
        StatusCode::OK => {
            let prefix = format!("{input}=");
            let line = body
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{facade}: no {input} in {body:?}"));
            Outcome::Received(line[prefix.len()..].to_string())
        }
        StatusCode::BAD_REQUEST => {
            // The refusal names the input at fault (location or locator).
            assert!(body.contains(input), "{facade}: {body}");
            Outcome::Refused
        }
        other => panic!("{facade}: unexpected {other}: {body}"),
    }
}

fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

async fn via_ogc_api(app: &TestApp, input: &str, literal: &str) -> Outcome {
    let request = json!({
        "inputs": {input: literal},
        "outputs": {"RECEIVED": {"transmissionMode": "value"}},
        "response": "raw",
    });
    let response = app
        .client
        .post(app.url(&format!("/processes/{PROCESS}/execution")))
        .json(&request)
        .send()
        .await
        .unwrap();
    outcome(response, input, "OGC API").await
}

async fn via_wps1(app: &TestApp, input: &str, literal: &str) -> Outcome {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
    xmlns:ows="http://www.opengis.net/ows/1.1">
  <ows:Identifier>{PROCESS}</ows:Identifier>
  <wps:DataInputs><wps:Input><ows:Identifier>{input}</ows:Identifier>
    <wps:Data><wps:LiteralData>{}</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs>
  <wps:ResponseForm><wps:RawDataOutput><ows:Identifier>RECEIVED</ows:Identifier>
  </wps:RawDataOutput></wps:ResponseForm>
</wps:Execute>"#,
        xml_text(literal)
    );
    post_wps(app, xml, input, "WPS 1.0.0").await
}

async fn via_wps2(app: &TestApp, input: &str, literal: &str) -> Outcome {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"
    service="WPS" version="2.0.0" mode="sync" response="raw">
  <ows:Identifier>{PROCESS}</ows:Identifier>
  <wps:Input id="{input}"><wps:Data><wps:LiteralValue>{}</wps:LiteralValue></wps:Data></wps:Input>
  <wps:Output id="RECEIVED" transmission="value"/>
</wps:Execute>"#,
        xml_text(literal)
    );
    post_wps(app, xml, input, "WPS 2.0").await
}

/// POSTs a WPS Execute document; the outcome for `input`.
async fn post_wps(app: &TestApp, xml: String, input: &str, facade: &str) -> Outcome {
    let response = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    outcome(response, input, facade).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_literal_gives_the_same_job_through_every_facade() {
    literals_image();
    let app = spawn_app().await;
    use Outcome::{Received, Refused};
    let got = |s: &str| Received(s.to_string());
    // The rule of `typed_literal`, as the container sees it (JSON numbers as written).
    let expected = [
        ("I", "TRUE", Refused),
        ("I", "1", got("1")),
        ("I", "1.0", Refused),
        ("I", "-0", got("0")),
        ("I", " 7 ", got("7")),
        ("N", "TRUE", Refused),
        ("N", "1", got("1")),
        ("N", "1.0", got("1.0")),
        ("N", "-0", got("0")),
        ("N", " 7 ", got("7")),
        ("B", "TRUE", got("true")),
        ("B", "1", got("true")),
        ("B", "1.0", Refused),
        ("B", "-0", Refused),
        ("B", " 7 ", Refused),
        ("S", "TRUE", got("[TRUE]")),
        ("S", "1", got("[1]")),
        ("S", "1.0", got("[1.0]")),
        ("S", "-0", got("[-0]")),
        ("S", " 7 ", got("[ 7 ]")),
    ];
    let mut differences = Vec::new();
    for (input, literal, want) in expected {
        let (ogc, wps1, wps2) = tokio::join!(
            via_ogc_api(&app, input, literal),
            via_wps1(&app, input, literal),
            via_wps2(&app, input, literal),
        );
        for (facade, outcome) in [("OGC API", ogc), ("WPS 1.0.0", wps1), ("WPS 2.0", wps2)] {
            if outcome != want {
                differences.push(format!(
                    "{input} = {literal:?} via {facade}: {outcome:?}, expected {want:?}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    app.stop().await;
}
