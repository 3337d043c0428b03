//! Validating our XML documents against the official schemas, offline: `xmllint` with the
//! XML catalog in `xsd/catalog.xml` (which maps the schemas' absolute locations to the
//! local copies).

use crate::support::repo_root;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Which schema a document must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // Each test module uses the variants of its WPS version.
pub enum Schema {
    /// Every WPS 2.0 document (`wps:Capabilities`, `wps:ProcessOfferings`, `wps:Result`,
    /// `wps:StatusInfo`, requests).
    Wps2,
    /// Every WPS 1.0.0 document (`wps:Capabilities`, `wps:ProcessDescriptions`,
    /// `wps:ExecuteResponse`, requests).
    Wps1,
    /// An OWS 2.0 `ows:ExceptionReport` (WPS 2.0 errors).
    Ows2Exception,
    /// An OWS 1.1 `ows:ExceptionReport` (WPS 1.0.0 errors).
    Ows11Exception,
}

impl Schema {
    fn path(self) -> PathBuf {
        let relative = match self {
            Schema::Wps2 => "xsd/wps/2.0/wps.xsd",
            Schema::Wps1 => "xsd/wps/1.0.0/wpsAll.xsd",
            Schema::Ows2Exception => "xsd/ows/2.0/owsExceptionReport.xsd",
            Schema::Ows11Exception => "xsd/ows/1.1.0/owsExceptionReport.xsd",
        };
        repo_root().join(relative)
    }
}

/// Fails the test with xmllint's message when `xml` does not validate against `schema`.
pub fn assert_valid_xml(xml: &str, schema: Schema) {
    let errors = schema_errors(xml, schema);
    assert!(
        errors.is_empty(),
        "the document does not validate against {:?}:\n{}\n--- document ---\n{xml}",
        schema,
        errors.join("\n")
    );
}

/// The validity errors xmllint reports for `xml` against `schema` (empty: valid), each
/// without the temporary file's name and line.
pub fn schema_errors(xml: &str, schema: Schema) -> Vec<String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml.as_bytes()).expect("write document");
    file.flush().expect("flush document");
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--catalogs", "--schema"])
        .arg(schema.path())
        .arg(file.path())
        .env("XML_CATALOG_FILES", repo_root().join("xsd/catalog.xml"))
        .output()
        .expect("run xmllint (is libxml2-utils installed?)");
    if output.status.success() {
        return Vec::new();
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<String> = stderr
        .lines()
        .filter(|line| line.contains("error"))
        .map(|line| match line.split_once(" : ") {
            Some((_, message)) => message.trim().to_string(),
            None => line.trim().to_string(),
        })
        .collect();
    // A failure without an error line (a broken schema, a crash) is still a failure.
    if errors.is_empty() {
        vec![stderr.trim().to_string()]
    } else {
        errors
    }
}
