// pass@k, the unbiased estimator of Chen et al. (2021), "Evaluating Large
// Language Models Trained on Code", in its numerically stable product form:
//   pass@k = 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k/i)
// for n samples of which c passed. Only defined for k <= n.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lcte::eval {

// nullopt when k > n (not computable) or k < 1; throws lcte::Error if c > n or n < 0.
std::optional<double> pass_at_k(int n, int c, int k);

struct TaskCounts {
  std::string task_id;
  int n = 0;  // samples evaluated
  int c = 0;  // samples passed
};

struct SuitePassAtK {
  int k = 0;
  std::optional<double> value;  // mean over tasks; nullopt when not computable
  std::string reason;           // why not, e.g. "k=10 > n=1 for 164 tasks"
  int tasks = 0;                // tasks averaged over
};

// Mean over tasks of pass_at_k; not computable when any task has fewer than k
// samples (averaging over a subset would silently change the question) or
// there are no tasks.
SuitePassAtK suite_pass_at_k(const std::vector<TaskCounts>& tasks, int k);

// "1,5,10" -> {1, 5, 10}; throws lcte::Error naming the bad entry.
std::vector<int> parse_k_list(const std::string& text);

}  // namespace lcte::eval
