//! Watched registries: Seed images pushed to a registry the server watches are published
//! (pinned to their digest), other images beside them are not, and they run after a pull.

use crate::deploy::{publish, run, unique};
use crate::support::{busybox_image, get_json, push_to_registry, registry, spawn_app_with};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn seed_images_of_a_watched_registry_are_published_and_run() {
    let name = unique("watched");
    // publish() pushes to `<registry>/it-deploy/<name>`: watch the `it-deploy` org (other
    // tests push there too: their unique jobs may be published beside this one).
    let image = publish(&name, "1.0.0", "watched", "1.0.0", true);
    let plain = push_to_registry(
        busybox_image(),
        &registry(),
        &format!("it-deploy/{name}-plain"),
        "1",
    );
    let watch = format!("{}/it-deploy", registry());
    let app = spawn_app_with(move |settings| {
        settings.catalog.discover_local_images = false;
        settings.registries.watch = vec![watch];
    })
    .await;

    let description: Value = get_json(&app.client, &app.url(&format!("/processes/{name}"))).await;
    assert_eq!(description["id"], name.as_str(), "{description:#}");
    assert_eq!(
        description["mutable"], false,
        "watched images are not deployed ones"
    );
    let pinned = description["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "urn:ades:seed:image")
        .and_then(|m| m["title"].as_str())
        .unwrap()
        .to_string();
    let repository = image.rsplit_once(':').unwrap().0;
    assert!(
        pinned.starts_with(&format!("{repository}@sha256:")),
        "{pinned}"
    );

    let list: Value = get_json(&app.client, &app.url("/processes?limit=1000")).await;
    let ids: Vec<&str> = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&name.as_str()), "{ids:?}");
    assert!(
        !ids.iter().any(|id| id.ends_with("-plain")),
        "{plain} has no Seed label: not published ({ids:?})"
    );

    assert_eq!(run(&app, &name, "w").await, "watched-w");
    let status = app
        .client
        .get(app.url("/processes/not-there"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
