// Renders server-side pages from the embedded mustache templates (HTML-escaped by default).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kt::web {

// Renders templates/<name>.mustache with the JSON context; templates/_<name>.mustache are its partials
// ({{> _name}}). Throws std::out_of_range for an unknown
// template (a bug), never for data.
std::string RenderTemplate(const std::string& name, const nlohmann::json& context);
// Renders the page body, then the layout around it (context fields are visible to both).
std::string RenderPage(const std::string& name, nlohmann::json context);
// An embedded static asset (static/<name>), if there is one.
const std::string* StaticAsset(const std::string& name);

}  // namespace kt::web
