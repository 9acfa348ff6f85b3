#include "backend/router_backend.h"

#include <filesystem>

#include "core/error.h"

namespace lcte::backend {

route::RouterConfig router_config(const Catalogue& catalogue) {
  const RoutingSettings& r = catalogue.routing;
  route::RouterConfig c;
  c.tiers = r.tiers;
  c.max_score = r.max_score;
  c.token_bounds = r.token_bounds;
  c.policy = r.policy;
  c.forced_tier = r.forced_tier;
  c.random_share = r.random_share;
  c.learned_target = r.learned_target;
  c.learned_model = r.learned_model;
  if (!c.learned_model.empty() && std::filesystem::path(c.learned_model).is_relative())
    c.learned_model = (std::filesystem::path(catalogue.path).parent_path() / c.learned_model).string();
  return c;
}

std::string routing_text(const GenerationRequest& request) {
  if (!request.chat) return request.prompt;
  std::string text;
  for (const ChatMessage& m : request.messages) text += (text.empty() ? "" : "\n") + m.content;
  return text;
}

RouterBackend::RouterBackend(route::RouterConfig config, route::TokenCounter count,
                             std::map<std::string, std::shared_ptr<Backend>> tiers, DecisionFn on_decision)
    : router_(std::move(config), std::move(count)), tiers_(std::move(tiers)), on_decision_(std::move(on_decision)) {
  if (router_.config().policy == "cascade")
    fail("router backend: the cascade policy escalates after judging an answer, which `lcte route eval` does "
         "offline; online, use threshold, learned, random or always-<tier>");
  for (const std::string& t : router_.config().tiers)
    if (!tiers_.count(t) || !tiers_.at(t)) fail("router backend: no backend for tier \"{}\"", t);
}

std::string RouterBackend::model() const {
  std::string tiers;
  for (const std::string& t : router_.config().tiers) tiers += (tiers.empty() ? "" : ",") + t;
  return "router(" + router_.config().policy + ": " + tiers + ")";
}

std::vector<Generation> RouterBackend::generate(const GenerationRequest& request, const StreamFn& on_text) {
  std::string text = routing_text(request);
  route::RouteResult r = router_.route(text);
  if (on_decision_) on_decision_(r, text);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    counts_[r.tier]++;
  }
  return tiers_.at(r.tier)->generate(request, on_text);
}

std::map<std::string, int> RouterBackend::tier_counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

}  // namespace lcte::backend
