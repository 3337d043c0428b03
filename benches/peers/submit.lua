-- wrk: every request is one asynchronous execute, its body and headers from the environment.
wrk.method = "POST"
wrk.body = os.getenv("PEERS_BODY")
wrk.headers["Content-Type"] = os.getenv("PEERS_CONTENT_TYPE")
wrk.headers["Prefer"] = "respond-async"
