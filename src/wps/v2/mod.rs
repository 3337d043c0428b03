//! WPS 2.0 (OGC 14-065): GetCapabilities, DescribeProcess, Execute, GetStatus, GetResult,
//! Dismiss, over the same catalogue and job service as the OGC API.
//!
//! Choices (ogc-notes §5, §7.4):
//! - Every process is described from the same `domain::Process` the OGC API renders: json
//!   inputs/outputs of a scalar type are `wps:LiteralData` (`ows:DataType` referencing the
//!   XML Schema type), json arrays/objects and files are `wps:ComplexData`; a file input
//!   that accepts any media type offers `application/octet-stream` (default), `text/xml`,
//!   `application/xml`, `text/plain` and `application/json`.
//! - KVP binding for GetCapabilities, DescribeProcess (`identifier=a,b`, or `ALL`),
//!   GetStatus, GetResult and Dismiss (`jobId`, any case); POST XML for all of them.
//! - An unknown process or job is `NoSuchProcess`/`NoSuchJob` with status 400, as WPS 2.0
//!   gives its exception codes (the OGC API answers 404 for the same job; see
//!   `crate::error::OwsCode::status`).
//! - Execute is in `execute.rs`; status and results in `status.rs`; the WPS-T
//!   DeployProcess and UndeployProcess in `transactional.rs`. GetCapabilities lists the
//!   WPS-T operations only when deploying is enabled (an admin token is configured):
//!   `ows:Operation/@name` is a free string in OWS 2.0, so the document stays valid.
//! - A process whose manifest declares no outputs has one, `JOB_LOG` (`text/plain`, its
//!   job log), as in WPS 1.0.0: a process description needs one `wps:Output` and a
//!   `wps:Result` one `wps:Output`. Naming it in Execute is allowed; results give it by
//!   reference (`/jobs/{jobId}/logs`), a raw answer is the log itself.

mod execute;
mod status;
mod transactional;

use super::exception::{xml_response, WpsException, OWS2};
use super::request::{Kvp, Operation, RequestBody, WpsRequest, WpsVersion, WPS2};
use super::xml::{escape_attr, escape_text, Element, XLINK};
use super::{offers_log_only, LOG_ABSTRACT, LOG_MEDIA_TYPE, LOG_OUTPUT, LOG_TITLE};
use crate::auth::Caller;
use crate::domain::{
    InputDescription, InputKind, JobControlOption, OutputDescription, OutputKind, Process,
    ProcessId,
};
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use axum::http::StatusCode;
use axum::response::Response;
use seed::manifest::JsonType;
use std::fmt::Write as _;

/// Exceptions of this module are WPS 2.0 ones.
const V: WpsVersion = WpsVersion::V2;

/// The namespace declarations of our documents' root elements.
const NAMESPACES: &str = concat!(
    " xmlns:wps=\"http://www.opengis.net/wps/2.0\"",
    " xmlns:ows=\"http://www.opengis.net/ows/2.0\"",
    " xmlns:xlink=\"http://www.w3.org/1999/xlink\""
);

/// Media types offered for a file input that accepts any.
const ANY_FILE_FORMATS: [&str; 5] = [
    "application/octet-stream",
    "text/xml",
    "application/xml",
    "text/plain",
    "application/json",
];

pub(crate) async fn handle(
    app: &AppState,
    base: &BaseUrl,
    caller: &Caller,
    request: WpsRequest,
) -> Response {
    match run(app, base, caller, request).await {
        Ok(response) => response,
        Err(exception) => exception.into_response(),
    }
}

async fn run(
    app: &AppState,
    base: &BaseUrl,
    caller: &Caller,
    request: WpsRequest,
) -> Result<Response, WpsException> {
    match (request.operation, &request.body) {
        (Operation::GetCapabilities, _) => Ok(ok(capabilities(app, base))),
        (Operation::DescribeProcess, body) => {
            let ids = match body {
                RequestBody::Kvp(kvp) => kvp
                    .require(V, "identifier")?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
                RequestBody::Xml(root) => root
                    .children_named(OWS2, "Identifier")
                    .map(|e| e.text().trim().to_string())
                    .collect(),
            };
            describe(app, &ids).await.map(ok)
        }
        (Operation::Execute, RequestBody::Xml(root)) => {
            execute::wps_execute(app, base, caller, root).await
        }
        (Operation::Execute, RequestBody::Kvp(_)) => Err(WpsException::new(
            V,
            OwsCode::OperationNotSupported,
            Some("request"),
            "WPS 2.0 Execute has no KVP binding: POST a wps:Execute XML document.",
        )),
        (Operation::GetStatus, body) => status::get_status(app, caller, &job_id(body)?).await,
        (Operation::GetResult, body) => status::get_result(app, base, caller, &job_id(body)?).await,
        (Operation::Dismiss, body) => status::dismiss(app, caller, &job_id(body)?).await,
        (Operation::DeployProcess, RequestBody::Xml(root)) => {
            transactional::deploy(app, caller, root).await
        }
        (Operation::UndeployProcess, RequestBody::Xml(root)) => {
            transactional::undeploy(app, caller, root).await
        }
        (Operation::DeployProcess | Operation::UndeployProcess, RequestBody::Kvp(_)) => {
            Err(WpsException::new(
                V,
                OwsCode::OperationNotSupported,
                Some("request"),
                "DeployProcess and UndeployProcess have no KVP binding: POST the XML document.",
            ))
        }
    }
}

/// A 200 XML document.
fn ok(document: String) -> Response {
    xml_response(StatusCode::OK, document)
}

/// The job id of GetStatus, GetResult and Dismiss: `jobId` (any case) or `wps:JobID`.
fn job_id(body: &RequestBody) -> Result<String, WpsException> {
    let id = match body {
        RequestBody::Kvp(kvp) => kvp_job_id(kvp)?,
        RequestBody::Xml(root) => root
            .child(WPS2, "JobID")
            .map(|e| e.text().trim().to_string())
            .unwrap_or_default(),
    };
    if id.is_empty() {
        return Err(WpsException::missing(
            V,
            "jobId",
            "The job id is required: add jobId=... (KVP) or <wps:JobID> (XML).",
        ));
    }
    Ok(id)
}

fn kvp_job_id(kvp: &Kvp) -> Result<String, WpsException> {
    Ok(kvp.get("jobid").unwrap_or("").trim().to_string())
}

/// The process, or `NoSuchProcess`.
async fn find_process(app: &AppState, id: &str) -> Result<std::sync::Arc<Process>, WpsException> {
    let found = match ProcessId::parse(id) {
        Ok(pid) => app.catalog.find(&pid).await,
        Err(_) => None,
    };
    found.ok_or_else(|| no_such_process(id))
}

/// `NoSuchProcess` for `id`.
fn no_such_process(id: &str) -> WpsException {
    WpsException::new(
        V,
        OwsCode::NoSuchProcess,
        Some("identifier"),
        format!(
            "There is no process {id:?}. GetCapabilities (service=WPS&request=\
             GetCapabilities) lists the processes offered."
        ),
    )
}

fn job_control_options(process: &Process) -> String {
    process
        .job_control_options
        .iter()
        .map(|o| match o {
            JobControlOption::SyncExecute => "sync-execute",
            JobControlOption::AsyncExecute => "async-execute",
            JobControlOption::Dismiss => "dismiss",
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ows:Title`, `ows:Abstract`, `ows:Keywords`, `ows:Identifier` of a description.
fn description_head(
    out: &mut String,
    title: &str,
    abstract_: Option<&str>,
    keywords: &[String],
    id: &str,
) {
    let title = if title.trim().is_empty() { id } else { title };
    let _ = write!(out, "<ows:Title>{}</ows:Title>", escape_text(title));
    if let Some(text) = abstract_.filter(|t| !t.trim().is_empty()) {
        let _ = write!(out, "<ows:Abstract>{}</ows:Abstract>", escape_text(text));
    }
    if !keywords.is_empty() {
        out.push_str("<ows:Keywords>");
        for keyword in keywords {
            let _ = write!(out, "<ows:Keyword>{}</ows:Keyword>", escape_text(keyword));
        }
        out.push_str("</ows:Keywords>");
    }
    let _ = write!(out, "<ows:Identifier>{}</ows:Identifier>", escape_text(id));
}

fn capabilities(app: &AppState, base: &BaseUrl) -> String {
    let endpoint = base.join("/wps");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<wps:Capabilities{NAMESPACES} service=\"WPS\" version=\"2.0.0\">\
         <ows:ServiceIdentification><ows:Title>{title}</ows:Title>\
         <ows:Abstract>Seed container images offered as processes (OGC API - Processes \
         and WPS over one job service).</ows:Abstract>\
         <ows:ServiceType>WPS</ows:ServiceType>\
         <ows:ServiceTypeVersion>2.0.0</ows:ServiceTypeVersion>\
         <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\
         <ows:Fees>NONE</ows:Fees><ows:AccessConstraints>NONE</ows:AccessConstraints>\
         </ows:ServiceIdentification>\
         <ows:ServiceProvider><ows:ProviderName>{title}</ows:ProviderName>\
         <ows:ProviderSite xlink:href=\"{site}\"/><ows:ServiceContact/></ows:ServiceProvider>\
         <ows:OperationsMetadata>",
        title = escape_text(&app.settings.title),
        site = escape_attr(&base.join("/")),
    );
    let deploying = app.settings.admin_token.is_some() || app.settings.auth.enabled;
    for operation in Operation::ALL {
        let transactional = matches!(
            operation,
            Operation::DeployProcess | Operation::UndeployProcess
        );
        if transactional && !deploying {
            continue;
        }
        let href = escape_attr(&endpoint);
        let get = if operation.xml_only(V) {
            String::new()
        } else {
            format!("<ows:Get xlink:href=\"{href}\"/>")
        };
        let _ = write!(
            out,
            "<ows:Operation name=\"{}\"><ows:DCP><ows:HTTP>{get}\
             <ows:Post xlink:href=\"{href}\"/></ows:HTTP></ows:DCP></ows:Operation>",
            operation.name()
        );
    }
    out.push_str("</ows:OperationsMetadata><wps:Contents>");
    for process in app.catalog.list() {
        let _ = write!(
            out,
            "<wps:ProcessSummary jobControlOptions=\"{}\" outputTransmission=\"value reference\" \
             processVersion=\"{}\" processModel=\"native\">",
            job_control_options(&process),
            escape_attr(&process.version)
        );
        description_head(
            &mut out,
            &process.title,
            Some(&process.description),
            &process.keywords,
            process.id.as_str(),
        );
        out.push_str("</wps:ProcessSummary>");
    }
    out.push_str("</wps:Contents></wps:Capabilities>");
    out
}

async fn describe(app: &AppState, ids: &[String]) -> Result<String, WpsException> {
    if ids.is_empty() {
        return Err(WpsException::missing(
            V,
            "identifier",
            "Name at least one process: identifier=<id>[,<id>...] (KVP) or <ows:Identifier> \
             (XML).",
        ));
    }
    let processes = if ids.len() == 1 && ids[0].eq_ignore_ascii_case("ALL") {
        app.catalog.list()
    } else {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.push(find_process(app, id).await?);
        }
        found
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(out, "<wps:ProcessOfferings{NAMESPACES}>");
    for process in processes {
        process_offering(&mut out, &process);
    }
    out.push_str("</wps:ProcessOfferings>");
    Ok(out)
}

/// One `wps:ProcessOffering` (ogc-notes §7.4).
pub(crate) fn process_offering(out: &mut String, process: &Process) {
    let _ = write!(
        out,
        "<wps:ProcessOffering jobControlOptions=\"{}\" outputTransmission=\"value reference\" \
         processVersion=\"{}\" processModel=\"native\"><wps:Process>",
        job_control_options(process),
        escape_attr(&process.version)
    );
    description_head(
        out,
        &process.title,
        Some(&process.description),
        &process.keywords,
        process.id.as_str(),
    );
    // The image as a title: `name:tag` is not a URI, so it cannot be an `xlink:href`.
    if let Some(seed) = process.seed() {
        let _ = write!(
            out,
            "<ows:Metadata xlink:role=\"urn:seed:image\" xlink:title=\"{}\"/>",
            escape_attr(&seed.image)
        );
    }
    for input in &process.inputs {
        input_description(out, input);
    }
    for output in &process.outputs {
        output_description(out, output);
    }
    if offers_log_only(process) {
        out.push_str("<wps:Output>");
        description_head(out, LOG_TITLE, Some(LOG_ABSTRACT), &[], LOG_OUTPUT);
        complex_data(out, std::iter::once(LOG_MEDIA_TYPE));
        out.push_str("</wps:Output>");
    }
    out.push_str("</wps:Process></wps:ProcessOffering>");
}

fn input_description(out: &mut String, input: &InputDescription) {
    let max = input
        .max_occurs
        .map_or("unbounded".to_string(), |m| m.to_string());
    let _ = write!(
        out,
        "<wps:Input minOccurs=\"{}\" maxOccurs=\"{max}\">",
        input.min_occurs
    );
    description_head(
        out,
        &input.title,
        input.description.as_deref(),
        &[],
        &input.id,
    );
    match &input.kind {
        InputKind::Json { kind } => json_data(out, *kind),
        InputKind::File { media_types } if media_types.is_empty() => {
            complex_data(out, ANY_FILE_FORMATS.iter().copied())
        }
        InputKind::File { media_types } => {
            complex_data(out, media_types.iter().map(String::as_str))
        }
    }
    out.push_str("</wps:Input>");
}

fn output_description(out: &mut String, output: &OutputDescription) {
    out.push_str("<wps:Output>");
    description_head(
        out,
        &output.title,
        output.description.as_deref(),
        &[],
        &output.id,
    );
    match &output.kind {
        OutputKind::Json { kind, .. } => json_data(out, *kind),
        OutputKind::File { media_type, .. } => complex_data(
            out,
            std::iter::once(media_type.as_deref().unwrap_or("application/octet-stream")),
        ),
    }
    out.push_str("</wps:Output>");
}

/// The XML Schema type of a scalar json type (`None`: arrays and objects).
pub(crate) fn xsd_type(kind: JsonType) -> Option<&'static str> {
    match kind {
        JsonType::String => Some("string"),
        JsonType::Integer => Some("integer"),
        JsonType::Number => Some("double"),
        JsonType::Boolean => Some("boolean"),
        JsonType::Array | JsonType::Object => None,
    }
}

fn json_data(out: &mut String, kind: JsonType) {
    match xsd_type(kind) {
        Some(xsd) => {
            // `LiteralDataDomain` is unqualified: dataTypes.xsd has no elementFormDefault.
            let _ = write!(
                out,
                "<wps:LiteralData><wps:Format mimeType=\"text/plain\" default=\"true\"/>\
                 <LiteralDataDomain default=\"true\"><ows:AnyValue/>\
                 <ows:DataType ows:reference=\"http://www.w3.org/2001/XMLSchema#{xsd}\">{xsd}\
                 </ows:DataType></LiteralDataDomain></wps:LiteralData>"
            );
        }
        None => complex_data(out, std::iter::once("application/json")),
    }
}

fn complex_data<'a>(out: &mut String, media_types: impl Iterator<Item = &'a str>) {
    out.push_str("<wps:ComplexData>");
    for (index, media_type) in media_types.enumerate() {
        let default = if index == 0 { " default=\"true\"" } else { "" };
        let _ = write!(
            out,
            "<wps:Format mimeType=\"{}\"{default}/>",
            escape_attr(media_type)
        );
    }
    out.push_str("</wps:ComplexData>");
}

/// The `xlink:href` of an element, if any.
fn href(element: &Element) -> Option<&str> {
    element.attr_ns(XLINK, "href")
}
