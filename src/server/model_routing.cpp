#include "server/model_routing.h"

namespace lcte::server {

RouteFn make_route_fn(std::shared_ptr<const route::Router> router,
                      std::function<void(const route::RouteResult&, const std::string& text)> on_decision) {
  return [router = std::move(router), on_decision = std::move(on_decision)](const std::string& text) {
    route::RouteResult r = router->route(text);
    if (on_decision) on_decision(r, text);
    return RouteChoice{r.model, route::explain(r)};
  };
}

}  // namespace lcte::server
