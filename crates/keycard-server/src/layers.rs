//! The middleware every request passes through, written as plain `tower` services.
//!
//! `axum::middleware::from_fn` clones the inner service, boxes it and boxes a future on every
//! request. For the request context and the metrics, that was about a seventh of a decision
//! request's time under load (`bench/http.sh`; docs/performance.md): these services call the inner
//! one directly, and box nothing on the usual path.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use keycard_core::change::Revision;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::layer::layer_fn;
use tower::{Layer, Service, ServiceExt as _};

use crate::error::Code;
use crate::error::{ApiError, REQUEST, RequestScope};
use crate::metrics::{Metrics, RequestLabels, RouteLabel};
use crate::state::AppState;

pub use crate::revision::MIN_REVISION_HEADER;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Gives every request an id (the client's `x-request-id` when it is sane), available to error
/// bodies while the request runs and echoed in the response; and honours `Keycard-Min-Revision` on
/// every face: the request is served only once this node's snapshot includes that revision (503
/// with `Retry-After` if it does not get there in time).
pub fn request_context<S>(state: AppState) -> impl Layer<S, Service = RequestContext<S>> + Clone {
    layer_fn(move |inner| RequestContext {
        inner,
        state: state.clone(),
    })
}

#[derive(Clone)]
pub struct RequestContext<S> {
    inner: S,
    state: AppState,
}

type BoxedResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<S> Service<Request> for RequestContext<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = WithRequestId<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let id = request_id(&req);
        let waiting = match req.headers().get(MIN_REVISION_HEADER) {
            None => None,
            Some(value) => match value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .filter(|revision| *revision >= 0)
            {
                Some(revision) => Some(Revision(revision)),
                None => {
                    let response = REQUEST.sync_scope(RequestScope::new(id.clone()), || {
                        ApiError::new(
                            Code::InvalidHeader,
                            "Keycard-Min-Revision must be a revision number",
                        )
                        .into_response()
                    });
                    return WithRequestId::new(
                        id,
                        Stage::Ready {
                            response: Some(response),
                        },
                    );
                }
            },
        };
        let stage = match waiting {
            None => Stage::Direct {
                inner: REQUEST.scope(RequestScope::new(id.clone()), self.inner.call(req)),
            },
            Some(revision) => {
                // The service polled ready is the one that must be called: take it, leave a clone.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let state = self.state.clone();
                let waited: BoxedResponse = Box::pin(async move {
                    if let Err(err) = state.app.at_least(revision).await {
                        return ApiError::from(err).into_response();
                    }
                    match inner.oneshot(req).await {
                        Ok(response) => response.into_response(),
                        Err(never) => match never {},
                    }
                });
                Stage::Waiting {
                    inner: REQUEST.scope(RequestScope::new(id.clone()), waited),
                }
            }
        };
        WithRequestId::new(id, stage)
    }
}

/// The client's request id when it is sane (printable ASCII, at most 200 bytes), else a new one.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .filter(|value| {
            let bytes = value.as_bytes();
            !bytes.is_empty() && bytes.len() <= 200 && bytes.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(|| {
            let mut text = uuid::Uuid::encode_buffer();
            let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("unknown"))
        })
}

pin_project! {
    /// The response of [`RequestContext`], with the request id set on it.
    pub struct WithRequestId<F> {
        id: Option<HeaderValue>,
        #[pin]
        stage: Stage<F>,
    }
}

impl<F> WithRequestId<F> {
    fn new(id: HeaderValue, stage: Stage<F>) -> Self {
        Self {
            id: Some(id),
            stage,
        }
    }
}

pin_project! {
    #[project = StageProjection]
    enum Stage<F> {
        /// The usual request: the inner service's own future.
        Direct { #[pin] inner: TaskLocalFuture<RequestScope, F> },
        /// A request that first waits for a revision.
        Waiting { #[pin] inner: TaskLocalFuture<RequestScope, BoxedResponse> },
        /// Answered without the inner service (a malformed header).
        Ready { response: Option<Response> },
    }
}

impl<F, R> Future for WithRequestId<F>
where
    F: Future<Output = Result<R, Infallible>>,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.stage.project() {
            StageProjection::Direct { inner } => match inner.poll(cx) {
                Poll::Ready(Ok(response)) => response.into_response(),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
            StageProjection::Waiting { inner } => match inner.poll(cx) {
                Poll::Ready(response) => response,
                Poll::Pending => return Poll::Pending,
            },
            StageProjection::Ready { response } => response.take().unwrap_or_default(),
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        Poll::Ready(Ok(response))
    }
}

/// Counts every routed request and its latency by method, route template and status. Applied per
/// route: each route's service keeps its template.
pub fn route_metrics<S: 'static>(
    metrics: Arc<Metrics>,
) -> impl Layer<S, Service = RouteMetrics<S>> + Clone + Send + Sync + 'static {
    layer_fn(move |inner| RouteMetrics {
        inner,
        metrics: metrics.clone(),
        route: Arc::default(),
    })
}

/// One per route: it keeps the route's template, so that a request's labels cost no allocation.
#[derive(Clone)]
pub struct RouteMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
    route: Arc<OnceLock<Arc<str>>>,
}

impl<S> Service<Request> for RouteMetrics<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Measured<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let matched = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        let cached = self.route.get_or_init(|| Arc::from(matched));
        // A layer instance serves one route; should one ever serve two, each keeps its own label.
        let route = if cached.as_ref() == matched {
            cached.clone()
        } else {
            Arc::from(matched)
        };
        let method = method_label(req.method());
        Measured {
            inner: self.inner.call(req),
            metrics: self.metrics.clone(),
            labels: Some((method, route)),
            started: Instant::now(),
        }
    }
}

/// The method as a label, without allocating: the standard ones by name, others as `OTHER`.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

pin_project! {
    /// A route's response, recorded when it is ready.
    pub struct Measured<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        labels: Option<(&'static str, Arc<str>)>,
        started: Instant,
    }
}

impl<F, E> Future for Measured<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        if let (Ok(response), Some((method, route))) = (&result, this.labels.take()) {
            let labels = RequestLabels {
                method,
                route: RouteLabel(route),
                status: response.status().as_u16(),
            };
            this.metrics.requests.get_or_create(&labels).inc();
            this.metrics
                .latency
                .get_or_create(&labels)
                .observe(this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(result)
    }
}
