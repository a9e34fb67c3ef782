#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <sstream>
#include <stdexcept>

namespace pay::cli {

void OnRun(CLI::App* sub, Context& ctx, Needs needs, std::function<int(Context&)> run) {
  sub->callback([&ctx, needs, run = std::move(run)] {
    ctx.needs = needs;
    ctx.run = run;
  });
}

void AddNotesOptions(CLI::App* sub, NotesOptions& o) {
  sub->add_option("--description", o.description, "A description kept with the payment (at most 512 bytes)");
  sub->add_option("--meta", o.meta, "KEY=VALUE metadata kept with the payment (repeatable; payment list --metadata finds it)")
      ->allow_extra_args(false);
}

Result<std::vector<std::pair<std::string, std::string>>> ParsePairs(const std::vector<std::string>& pairs,
                                                                    std::string_view option) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& kv : pairs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(option) + ": '" + kv + "' is not KEY=VALUE");
    }
    out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

Result<PaymentNotes> NotesOf(const NotesOptions& o) {
  PaymentNotes n;
  n.description = o.description;
  PAY_ASSIGN_OR_RETURN(n.metadata, ParsePairs(o.meta, "--meta"));
  return n;
}

void AddListOptions(CLI::App* sub, ListOptions& o, const char* after_help) {
  sub->add_option("--after", o.after, after_help);
  sub->add_option("--limit", o.limit, "At most this many (max 10000)")->check(CLI::Range(1, 10000));
}

void Help(CLI::App* sub, const std::vector<std::string>& examples,
          const std::vector<std::string_view>& globals, std::string_view notes) {
  std::ostringstream out;
  if (!notes.empty()) out << notes << "\n";
  if (examples.size() == 1 && examples[0].find('\n') == std::string::npos) {
    out << "Example: " << examples[0] << "\n";
  } else if (!examples.empty()) {
    out << (examples.size() == 1 ? "Example:\n" : "Examples:\n");
    for (const std::string& e : examples) out << "  " << e << "\n";
  }
  const CLI::App* root = sub;
  while (root->get_parent() != nullptr) root = root->get_parent();
  std::vector<std::string> names;
  for (std::string_view list : globals) {
    std::istringstream words{std::string(list)};
    for (std::string name; words >> name;) names.push_back(name);
  }
  if (!names.empty()) out << "Global options it uses (before or after the command):\n";
  for (const std::string& name : names) {
    const CLI::Option* opt = root->get_option_no_throw(name);
    if (opt == nullptr) throw std::logic_error("Help: no global option " + name);  // a typo here
    out << "  " << name << std::string(name.size() < 26 ? 26 - name.size() : 1, ' ')
        << opt->get_description() << "\n";
  }
  std::string text = out.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  sub->footer(text);
}

}  // namespace pay::cli
