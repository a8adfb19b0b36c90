// JUnit XML for CI from a summary document: one testsuite for the run, one testcase per
// threshold and one per check, the run's metadata as properties (docs/REPORT.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pelt {

// The document as JUnit XML (the structure Jenkins' and GitLab's JUnit readers take):
// <testsuites><testsuite> with <properties>, a <testcase> per threshold (classname
// "pelt.thresholds"; <failure> with the observed value and the expression when crossed,
// <skipped> when the metric had no data) and per check (classname "pelt.checks"; <failure>
// with pass/fail counts when any failed), and a short text summary in <system-out>.
std::string render_junit_xml(const nlohmann::json& summary);

// Text made safe for XML content and attribute values: & < > " ' escaped, line breaks and tabs
// as character references, invalid UTF-8 and characters XML 1.0 forbids as U+FFFD.
std::string xml_escape(const std::string& text);

}  // namespace pelt
