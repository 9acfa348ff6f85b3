#include "backend/router_backend.h"

#include "core/error.h"

namespace lcte::backend {

std::string routing_text(const GenerationRequest& request) {
  if (!request.chat) return request.prompt;
  std::string text;
  for (const ChatMessage& m : request.messages) text += (text.empty() ? "" : "\n") + m.content;
  return text;
}

RouterBackend::RouterBackend(route::RouterConfig config, route::TokenCounter count,
                             std::map<std::string, std::shared_ptr<Backend>> models, DecisionFn on_decision)
    : router_(std::move(config), std::move(count)), models_(std::move(models)), on_decision_(std::move(on_decision)) {
  try {
    route::check_deployable(router_.config());
  } catch (const Error& e) {
    fail("router backend: {}", e.what());
  }
  const route::RouterConfig& c = router_.config();
  for (size_t i = 0; i < c.tiers.size(); ++i)
    if (!models_.count(c.model_of(i)) || !models_.at(c.model_of(i)))
      fail("router backend: no backend for tier \"{}\" (model \"{}\")", c.tiers[i], c.model_of(i));
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
  return models_.at(r.model)->generate(request, on_text);
}

std::map<std::string, int> RouterBackend::tier_counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

}  // namespace lcte::backend
