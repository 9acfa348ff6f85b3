// The server's routing seam: a function from a request's text to the model
// that should answer it, with a JSON explanation returned to the client (the
// response's "routing" field, route::explain). `lcte serve` routes with
// route::Router, through the dashboard's live rules when it is mounted.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

#include "route/router.h"

namespace lcte::server {

struct RouteChoice {
  std::string model;       // a served model's name
  nlohmann::json routing;  // why: route::explain of the decision
};

using RouteFn = std::function<RouteChoice(const std::string& text)>;

// Routes every request with `router`; `on_decision` (may be empty) hears of
// each decision, e.g. to record it.
RouteFn make_route_fn(std::shared_ptr<const route::Router> router,
                      std::function<void(const route::RouteResult&, const std::string& text)> on_decision = {});

}  // namespace lcte::server
