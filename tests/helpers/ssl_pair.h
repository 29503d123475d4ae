/* For the test helpers: a client and a server SSL over a memory BIO pair
 * (no network), with a self-signed key made once. */
#ifndef LLMOBS_TESTS_SSL_PAIR_H
#define LLMOBS_TESTS_SSL_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static void die(const char *what)
{
	fprintf(stderr, "%s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

static void pair(SSL **c, SSL **s)
{
	static SSL_CTX *sctx, *cctx;
	BIO *cb, *sb;

	if (!sctx) {
		EVP_PKEY *pkey = EVP_EC_gen("P-256");
		X509 *cert = X509_new();

		if (!pkey || !cert)
			die("key");
		ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
		X509_gmtime_adj(X509_getm_notBefore(cert), 0);
		X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
		X509_set_pubkey(cert, pkey);
		X509_set_issuer_name(cert, X509_get_subject_name(cert));
		if (!X509_sign(cert, pkey, EVP_sha256()))
			die("sign");
		sctx = SSL_CTX_new(TLS_server_method());
		cctx = SSL_CTX_new(TLS_client_method());
		if (!sctx || !cctx || SSL_CTX_use_certificate(sctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey(sctx, pkey) != 1)
			die("ctx");
	}
	*c = SSL_new(cctx);
	*s = SSL_new(sctx);
	if (!*c || !*s || !BIO_new_bio_pair(&cb, 0, &sb, 0))
		die("SSL_new");
	SSL_set_bio(*c, cb, cb);
	SSL_set_bio(*s, sb, sb);
	SSL_set_connect_state(*c);
	SSL_set_accept_state(*s);
}

#endif
