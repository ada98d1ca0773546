// Mustache rendering over nlohmann JSON contexts.
#include "web/render.h"

#include <kainjow/mustache.hpp>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>

namespace kt::web {

namespace templates {
const std::map<std::string, std::string>& EmbeddedFiles();
}
namespace assets {
const std::map<std::string, std::string>& EmbeddedFiles();
}

namespace {

using Data = kainjow::mustache::data;

Data ToData(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      Data d{Data::type::object};
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), ToData(it.value()));
      return d;
    }
    case nlohmann::json::value_t::array: {
      Data d{Data::type::list};
      for (const auto& v : j) d.push_back(ToData(v));
      return d;
    }
    case nlohmann::json::value_t::string:
      return Data(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? Data(Data::type::bool_true) : Data(Data::type::bool_false);
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return Data(j.dump());
    case nlohmann::json::value_t::null:
    default:
      return Data(Data::type::bool_false);
  }
}

// Parsed templates are cached. kainjow's render() is not const (it keeps error state), so each
// template renders under its own lock; pages are not a hot path.
struct CompiledTemplate {
  std::mutex mu;
  std::unique_ptr<kainjow::mustache::mustache> mustache;
};

CompiledTemplate& Compiled(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<CompiledTemplate>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return *it->second;
  const auto& files = templates::EmbeddedFiles();
  auto f = files.find(name + ".mustache");
  if (f == files.end()) throw std::out_of_range("no template named " + name);
  auto t = std::make_unique<CompiledTemplate>();
  t->mustache = std::make_unique<kainjow::mustache::mustache>(f->second);
  if (!t->mustache->is_valid())
    throw std::logic_error("template " + name + ": " + t->mustache->error_message());
  return *cache.emplace(name, std::move(t)).first->second;
}

}  // namespace

std::string RenderTemplate(const std::string& name, const nlohmann::json& context) {
  Data data = ToData(context);
  // Templates named _<name>.mustache are partials ({{> _name}}); the underscore keeps them apart from data
  // keys.
  if (data.is_object()) {
    for (const auto& [file, text] : templates::EmbeddedFiles()) {
      if (!file.starts_with('_')) continue;
      const auto& partial_text = text;  // a lambda captures a variable, not a structured binding (clang 14)
      data.set(file.substr(0, file.size() - std::string_view(".mustache").size()),
               Data(kainjow::mustache::partial([&partial_text] { return partial_text; })));
    }
  }
  CompiledTemplate& t = Compiled(name);
  std::lock_guard lock(t.mu);
  return t.mustache->render(data);
}

std::string RenderPage(const std::string& name, nlohmann::json context) {
  context["body"] = RenderTemplate(name, context);
  return RenderTemplate("layout", context);
}

const std::string* StaticAsset(const std::string& name) {
  const auto& files = assets::EmbeddedFiles();
  auto it = files.find(name);
  return it == files.end() ? nullptr : &it->second;
}

}  // namespace kt::web
