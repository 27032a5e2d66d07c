#!/bin/sh
# Regenerates the test PKI in this folder with the openssl command line (OpenSSL 3.0).
# Run once; the output is committed. Tests pass a fixed `now` inside 2026-2046.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
countryName = optional
organizationName = optional
commonName = supplied
[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ intermediate_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_rsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, 1.3.6.1.5.5.8.2.2
subjectAltName = DNS:vpn.postern.test, IP:192.0.2.1, DNS:192.0.2.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_ecdsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:ecdsa.postern.test, IP:2001:db8::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_ed25519 ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:ed25519.postern.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = email:alice@postern.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf_not_ca ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectAltName = DNS:notca.postern.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ plain_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:vpn.postern.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
: > "$work/index.txt"
echo 1000 > "$work/serial"

ca() { # ca <section> <csr> <out> <issuer cert> <issuer key> <start> <end> [-selfsign]
    openssl ca -batch -notext -config "$work/ca.cnf" -extensions "$1" -in "$2" -out "$3" \
        -cert "$4" -keyfile "$5" -startdate "$6" -enddate "$7" ${8:-}
}
csr() { # csr <key> <subject> <out>
    openssl req -new -key "$1" -subj "$2" -out "$3"
}
long_start=20260101000000Z
long_end=20460101000000Z

# Keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out root-ca.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out intermediate-ca.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server-rsa.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-ecdsa.key
openssl genpkey -algorithm ED25519 -out server-ed25519.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out expired.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-ca.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-server.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out not-ca.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out issued-by-not-ca.key

# Root CA (RSA-3072, self-signed) and intermediate CA (ECDSA P-256)
csr root-ca.key "/C=CH/O=Postern Test/CN=Postern Test Root CA" "$work/root.csr"
ca root_ca "$work/root.csr" root-ca.pem root-ca.pem root-ca.key $long_start $long_end -selfsign
csr intermediate-ca.key "/C=CH/O=Postern Test/CN=Postern Test Intermediate CA" "$work/int.csr"
ca intermediate_ca "$work/int.csr" intermediate-ca.pem root-ca.pem root-ca.key $long_start $long_end

# End entities under the intermediate
csr server-rsa.key "/C=CH/O=Postern Test/CN=vpn.postern.test" "$work/s1.csr"
ca server_rsa "$work/s1.csr" server-rsa.pem intermediate-ca.pem intermediate-ca.key \
    $long_start $long_end
csr server-ecdsa.key "/C=CH/O=Postern Test/CN=ecdsa.postern.test" "$work/s2.csr"
ca server_ecdsa "$work/s2.csr" server-ecdsa.pem intermediate-ca.pem intermediate-ca.key \
    $long_start $long_end
csr client.key "/C=CH/O=Postern Test/CN=alice" "$work/c.csr"
ca client "$work/c.csr" client.pem intermediate-ca.pem intermediate-ca.key $long_start $long_end
csr expired.key "/C=CH/O=Postern Test/CN=expired.postern.test" "$work/e.csr"
ca plain_server "$work/e.csr" expired.pem intermediate-ca.pem intermediate-ca.key \
    20200101000000Z 20210101000000Z

# Ed25519 server directly under the root (a two-certificate chain)
csr server-ed25519.key "/C=CH/O=Postern Test/CN=ed25519.postern.test" "$work/s3.csr"
ca server_ed25519 "$work/s3.csr" server-ed25519.pem root-ca.pem root-ca.key $long_start $long_end

# An unrelated CA and a server certificate it signed for our name
csr other-ca.key "/C=CH/O=Somebody Else/CN=Unrelated CA" "$work/o.csr"
ca root_ca "$work/o.csr" other-ca.pem other-ca.pem other-ca.key $long_start $long_end -selfsign
csr other-server.key "/C=CH/O=Somebody Else/CN=vpn.postern.test" "$work/os.csr"
ca plain_server "$work/os.csr" other-server.pem other-ca.pem other-ca.key $long_start $long_end

# A CA:FALSE end entity (under the intermediate) used as the issuer of another certificate
csr not-ca.key "/C=CH/O=Postern Test/CN=not a CA" "$work/n.csr"
ca leaf_not_ca "$work/n.csr" not-ca.pem intermediate-ca.pem intermediate-ca.key \
    $long_start $long_end
csr issued-by-not-ca.key "/C=CH/O=Postern Test/CN=vpn.postern.test" "$work/ni.csr"
ca plain_server "$work/ni.csr" issued-by-not-ca.pem not-ca.pem not-ca.key $long_start $long_end

# A PEM bundle: server chain (end entity first, then the intermediate)
cat server-rsa.pem intermediate-ca.pem > server-rsa-chain.pem
