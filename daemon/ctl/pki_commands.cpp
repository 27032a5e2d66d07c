// postern pki init|issue (the CA, server and client certificates: pki.hpp) and postern init
// (first use: init_command.cpp).
#include <openssl/crypto.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "daemon/ctl/cli_util.hpp"
#include "daemon/ctl/commands.hpp"
#include "daemon/ctl/init_command.hpp"
#include "daemon/ctl/pki.hpp"
#include "daemon/ctl/user_password.hpp"
#include "postern/net.hpp"

namespace postern::ctl {

namespace {

using nlohmann::json;

void add_pki_init(CLI::App* pki_app, GlobalOptions& opts) {
    auto req = std::make_shared<pki::InitRequest>();
    auto out = std::make_shared<std::string>();
    auto* sub = pki_app->add_subcommand(
        "init", "create a CA and a server certificate signed by it (RSA 3072)");
    sub->add_option("--name", req->names,
                    "server DNS name (repeatable; the first is the certificate's CN)")
        ->required();
    sub->add_option("--address", req->addresses,
                    "server IP address (repeatable; in the SAN as iPAddress and dNSName)");
    sub->add_option("--out", *out, "folder for ca.pem, ca.key, server.pem, server.key")->required();
    sub->add_option("--days", req->days, "validity of the server certificate")
        ->capture_default_str();
    sub->add_flag("--force", req->force, "overwrite existing files");
    sub->callback([req, out, &opts] {
        req->out = *out;
        for (const auto& n : req->names)
            if (!pki::is_dns_name(n))
                return fail(opts, kUsage, "pki init: --name \"" + n + "\" is not a DNS name");
        for (const auto& addr : req->addresses)
            if (!IpAddress::parse(addr))
                return fail(opts, kUsage,
                            "pki init: --address \"" + addr + "\" is not an IP address");
        auto r = pki::init(*req);
        if (!r) return fail(opts, kFailure, "pki init: " + r.error());
        if (opts.json)
            return print_json(json{{"ca_cert", r->ca_cert.string()},
                                   {"ca_key", r->ca_key.string()},
                                   {"server_cert", r->server_cert.string()},
                                   {"server_key", r->server_key.string()}});
        std::cout << "CA:     " << r->ca_cert.string() << " (key " << r->ca_key.string() << ")\n"
                  << "Server: " << r->server_cert.string() << " (key " << r->server_key.string()
                  << ")\n";
    });
}

void add_pki_issue(CLI::App* pki_app, GlobalOptions& opts) {
    struct Args {
        pki::IssueRequest req;
        std::string ca_dir, out;
        bool password_stdin = false;
    };
    auto a = std::make_shared<Args>();
    auto* sub = pki_app->add_subcommand(
        "issue", "issue a client certificate: USER.pem, USER.key and USER.p12 (with the CA)");
    sub->add_option("user", a->req.user, "the certificate's CN and subjectAltName")->required();
    sub->add_option("--ca-dir", a->ca_dir, "folder with ca.pem and ca.key")->required();
    sub->add_option("--out", a->out, "output folder (default: <ca-dir>/clients)");
    sub->add_option("--days", a->req.days, "validity")->capture_default_str();
    sub->add_flag("--ecdsa", a->req.ecdsa, "ECDSA P-256 key instead of RSA 3072");
    sub->add_flag("--p12-password-stdin", a->password_stdin,
                  "read the PKCS#12 password from one line of stdin (default: generate one)");
    sub->add_flag("--force", a->req.force, "overwrite existing files");
    sub->callback([a, &opts] {
        a->req.ca_dir = a->ca_dir;
        a->req.out = a->out;
        auto pw = a->password_stdin ? read_password_line(std::cin)
                                    : tl::expected<Password, std::string>(generate_password());
        if (!pw) return fail(opts, kUsage, "pki issue: " + pw.error());
        a->req.p12_password = pw->text();
        auto r = pki::issue(a->req);
        OPENSSL_cleanse(a->req.p12_password.data(), a->req.p12_password.size());
        if (!r) return fail(opts, kFailure, "pki issue " + a->req.user + ": " + r.error());
        if (opts.json) {
            json j{{"cert", r->cert.string()}, {"key", r->key.string()}, {"p12", r->p12.string()}};
            if (!a->password_stdin) j["p12_password"] = pw->text();
            return print_json(j);
        }
        std::cout << "Certificate: " << r->cert.string() << "\nKey:         " << r->key.string()
                  << "\nPKCS#12:     " << r->p12.string() << "\n";
        if (!a->password_stdin)
            std::cout << "PKCS#12 password (shown once, not stored): " << pw->text() << "\n";
    });
}

}  // namespace

void add_pki_commands(CLI::App& app, GlobalOptions& opts) {
    auto* pki_app = app.add_subcommand("pki", "certificates: a CA, the server's, clients'");
    pki_app->require_subcommand(1);
    add_pki_init(pki_app, opts);
    add_pki_issue(pki_app, opts);
    add_init_command(app, opts);
}

}  // namespace postern::ctl
