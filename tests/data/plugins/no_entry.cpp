// A shared object that is no plugin: no postern_plugin_entry.
extern "C" __attribute__((visibility("default"))) int something_else(void) {
    return 42;
}
