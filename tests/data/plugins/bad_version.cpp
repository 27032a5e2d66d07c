// A plugin built for another API version: posternd must refuse it, naming both versions.
#include "postern/plugin/plugin.hpp"

namespace {
std::unique_ptr<postern::plugin::Plugin> create(postern::plugin::Host&,
                                                const postern::plugin::Settings&,
                                                postern::plugin::Registry&, std::string&) {
    return std::make_unique<postern::plugin::Plugin>();
}
}  // namespace

extern "C" __attribute__((visibility("default"))) const postern_plugin_descriptor*
postern_plugin_entry(void) {
    static_assert(POSTERN_PLUGIN_API_VERSION != 42);
    static const postern_plugin_descriptor d{42, "badversion",
                                             "built for another API", &create};
    return &d;
}
