# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_tls -*-
"""TLS for the protocol: passwords and callers' data never cross the
network in clear.

The server listens for TLS on a ``tls:`` entry of ``[server] listen``, with
the files of ``[server.tls]`` (docs/configuration.md)::

    [server]
    listen = ["tcp:7500:interface=127.0.0.1", "tls:7501"]

    [server.tls]
    certificate = "tls/server.pem"     # the server's certificate, then its chain
    private_key = "tls/server.key"
    client_ca = "tls/clients-ca.pem"   # optional: clients must show a certificate it signed

`ServerTLS` is the server's side: it reads the files, checks that they
belong together, and re-reads them when they change on disk (each new
connection looks at their modification times), so certificates are
rotated by replacing the files, with no restart; connections already up
keep the keys they started with.  TLS 1.2 is the oldest version it speaks.

Clients name the server with Twisted's own client endpoint strings, which
check the server's certificate against the CAs of a directory and can show
a client certificate::

    tls:host=cti.example.com:port=7501:trustRoots=/etc/cti/ca:certificate=me.pem:privateKey=me.key

and `client_context` makes the same for the blocking client (`ssl` module).
docs/operations.md says how to make and rotate the certificates.
"""
import os
import ssl

from OpenSSL import crypto
from twisted.internet import endpoints
from twisted.internet.interfaces import IOpenSSLContextFactory
from twisted.internet.ssl import Certificate, CertificateOptions, KeyPair, TLSVersion
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()


class TLSFilesError(Exception):
    """A TLS file that cannot be used: `key` says which setting."""

    def __init__(self, key, message):
        self.key = key
        super().__init__(message)


def _read(path, key):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSFilesError(key, f"cannot read {str(path)!r}: {e.strerror}") from None


def _certificates(path, key):
    """Every certificate of a PEM file, in order."""
    data = _read(path, key)
    marker = b"-----END CERTIFICATE-----"
    pems = [chunk + marker for chunk in data.split(marker) if b"-----BEGIN CERTIFICATE" in chunk]
    if not pems:
        raise TLSFilesError(key, f"{str(path)!r} holds no PEM certificate")
    try:
        return [Certificate.loadPEM(pem.strip()) for pem in pems]
    except crypto.Error as e:
        raise TLSFilesError(key, f"{str(path)!r}: not a valid certificate ({e})") from None


@implementer(IOpenSSLContextFactory)
class ServerTLS:
    """The server's TLS settings, as a Twisted context factory
    (`getContext`) that re-reads its files when they change."""

    def __init__(self, certificate, private_key, client_ca=None):
        self.paths = {"certificate": certificate, "private_key": private_key,
                      "client_ca": client_ca}
        self._stamp = None
        self._options = None
        self.load()

    def _files_stamp(self):
        return tuple(os.stat(p).st_mtime_ns if p is not None and os.path.exists(p) else None
                     for p in self.paths.values())

    def load(self):
        """Read and check the files now: TLSFilesError if they are unusable."""
        stamp = self._files_stamp()
        chain = _certificates(self.paths["certificate"], "certificate")
        try:
            key = KeyPair.load(_read(self.paths["private_key"], "private_key"),
                               crypto.FILETYPE_PEM)
        except crypto.Error as e:
            raise TLSFilesError("private_key", f"{str(self.paths['private_key'])!r}: not a "
                                f"PEM private key (or it is encrypted) ({e})") from None
        mine = crypto.dump_publickey(crypto.FILETYPE_PEM, chain[0].original.get_pubkey())
        if mine != crypto.dump_publickey(crypto.FILETYPE_PEM, key.original):
            raise TLSFilesError("private_key", f"{str(self.paths['private_key'])!r} is not "
                                f"the key of the certificate {str(self.paths['certificate'])!r}")
        client_cas = []
        if self.paths["client_ca"] is not None:
            client_cas = [c.original for c in _certificates(self.paths["client_ca"],
                                                            "client_ca")]
        self._options = CertificateOptions(
            privateKey=key.original, certificate=chain[0].original,
            extraCertChain=[c.original for c in chain[1:]],
            verify=bool(client_cas), caCerts=client_cas or None,
            requireCertificate=bool(client_cas),
            raiseMinimumTo=TLSVersion.TLSv1_2)
        self._stamp = stamp
        return self._options

    def getContext(self):
        """The OpenSSL context for a new connection, from the files as they
        are now; while new files cannot be used (half copied, or wrong),
        the ones loaded last, and an error logged once for them."""
        stamp = self._files_stamp()
        if stamp != self._stamp:
            try:
                self.load()
            except TLSFilesError as e:
                self._stamp = stamp
                log.error("TLS: the new files cannot be used, still serving the previous "
                          "ones: {key}: {error}", key=e.key, error=str(e))
        return self._options.getContext()


def server_endpoint(reactor, port, tls, interface=""):
    """A TLS listening endpoint on `port` with `tls` (a ServerTLS)."""
    return endpoints.SSL4ServerEndpoint(reactor, port, tls, interface=interface)


def client_context(ca_file=None, certificate=None, private_key=None):
    """An `ssl.SSLContext` for the blocking client: the server's certificate
    checked against `ca_file` (else the system's CAs), and this client's
    certificate shown when one is given."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certificate is not None:
        context.load_cert_chain(certificate, private_key)
    return context
