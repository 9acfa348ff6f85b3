// The routed system as one backend: each request is routed by route::Router
// to a tier, and that tier's backend answers it. This is how `lcte eval
// --backend router` scores the routed system itself (its pass@k, latency and
// energy next to each tier's), with every decision reported to the caller.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backend/catalogue.h"
#include "backend/generation.h"
#include "route/router.h"

namespace lcte::backend {

class RouterBackend final : public Backend {
 public:
  using DecisionFn = std::function<void(const route::RouteResult&, const std::string& text)>;
  // `models`: the backend of every model the router's tiers name
  // (RouterConfig::models, or the tier names). Throws lcte::Error when one is
  // missing, or for the cascade policy (its escalation needs the answer
  // judged, which only the offline evaluation does).
  RouterBackend(route::RouterConfig config, route::TokenCounter count,
                std::map<std::string, std::shared_ptr<Backend>> models, DecisionFn on_decision = {});
  std::string name() const override { return "router"; }
  std::string model() const override;
  std::vector<Generation> generate(const GenerationRequest& request, const StreamFn& on_text = {}) override;

  // Requests each tier has answered so far.
  std::map<std::string, int> tier_counts() const;

 private:
  route::Router router_;
  std::map<std::string, std::shared_ptr<Backend>> models_;
  DecisionFn on_decision_;
  mutable std::mutex mutex_;
  std::map<std::string, int> counts_;
};

// What the router reads of a request: the completion prompt, or the chat
// messages' contents one after another.
std::string routing_text(const GenerationRequest& request);

}  // namespace lcte::backend
