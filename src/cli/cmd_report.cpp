// lcte report RUN... [-o DIR]: an HTML report, a Markdown summary and CSVs.
#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "report/report.h"
#include "store/store.h"

namespace lcte::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Write an HTML report, a Markdown summary and CSV files for runs");
  auto runs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>("lcte-report");
  auto title = std::make_shared<std::string>("lcte report");
  auto store_path = std::make_shared<std::string>(store::Store::default_path());
  cmd->add_option("runs", *runs, "Run ids or unique prefixes")->required();
  cmd->add_option("-o,--out", *out, "Output directory")->capture_default_str();
  cmd->add_option("--title", *title, "Report title")->capture_default_str();
  cmd->add_option("--store", *store_path, "Store database")->capture_default_str();
  cmd->callback([=] {
    store::Store s(*store_path);
    std::vector<std::string> ids;
    for (const std::string& r : *runs) {
      auto found = s.find_run(r);
      if (!found) fail("no run '{}' in {}", r, s.path());
      ids.push_back(found->id);
    }
    report::ReportFiles f = report::write_report(s, ids, *out, *title);
    std::printf("%s\n%s\n%s\n%s\n%s\n", f.html.c_str(), f.markdown.c_str(), f.summary_csv.c_str(),
                f.samples_csv.c_str(), f.per_task_csv.c_str());
  });
}

}  // namespace lcte::cli
