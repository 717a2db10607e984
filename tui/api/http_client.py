"""The one place where an httpx client that carries the PIN is built.

httpx sends requests through the proxies named in the environment (http_proxy,
https_proxy, ALL_PROXY, with NO_PROXY) on its own. That is fine for HTTPS, where
the proxy only relays an encrypted tunnel (CONNECT), but a plain-HTTP request
would hand the proxy the PIN in clear text. So plain HTTP goes straight to its
host, unless the request says the user allowed the proxy hop
(`proxy_plain_http`), and never to a proxy when the host is this machine.
"""

from __future__ import annotations

import ssl
import urllib.request
from functools import partial

import httpx

from tui import __version__
from tui.api.tls import tls_context
from tui.api.transport import is_loopback

PROXY_PLAIN_HTTP = "linkdeck.proxy_plain_http"
"""A request extension: true when this plain-HTTP request may use the environment's proxy."""


def make_http_client(ca_file: str = "") -> httpx.AsyncClient:
    """An httpx client for the legacy API, trusting `ca_file` too (CaFileError
    when it cannot). A proxy in the environment that httpx cannot use is not an
    error here: the calls it would carry fail, saying why."""
    verify = tls_context(ca_file)
    build = partial(
        httpx.AsyncClient,
        # No timeout per read: ApiClient gives every call one deadline for all of it.
        timeout=None,
        headers={"User-Agent": f"linkdeck/{__version__}"},
        follow_redirects=False,
        verify=verify,
    )
    try:
        return build(mounts={"http://": _PlainHttpRoute(_environment_http_proxy(), verify)})
    except ImportError:  # the one package httpx imports for a proxy
        reason = "the SOCKS proxy set in the environment needs the socksio package"
    except (ValueError, httpx.InvalidURL) as error:  # an unknown scheme, a broken URL
        reason = f"the proxy set in the environment cannot be used: {error}"
    # httpx refuses to build a client with that proxy. Plain HTTP still goes
    # straight to its host; every other call fails, saying why.
    return build(
        trust_env=False,
        transport=_UnusableProxy(reason),
        mounts={"http://": _PlainHttpRoute(None, verify)},
    )


def _environment_http_proxy() -> str | None:
    """The proxy the environment names for plain HTTP, as httpx reads it."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get("http") or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class _PlainHttpRoute(httpx.AsyncBaseTransport):
    """Where a plain-HTTP request goes: straight to its host, or through the
    environment's proxy when the request allows it and the host is not loopback."""

    def __init__(self, proxy: str | None, verify: ssl.SSLContext) -> None:
        # The context is for an HTTPS proxy; given, so that none is built for nothing.
        self._direct = httpx.AsyncHTTPTransport(verify=verify)
        self._proxied = (
            None if proxy is None else httpx.AsyncHTTPTransport(proxy=proxy, verify=verify)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if (
            self._proxied is not None
            and request.extensions.get(PROXY_PLAIN_HTTP) is True
            and not is_loopback(host)
            and not urllib.request.proxy_bypass(host)  # NO_PROXY
        ):
            return await self._proxied.handle_async_request(request)
        return await self._direct.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        if self._proxied is not None:
            await self._proxied.aclose()


class _UnusableProxy(httpx.AsyncBaseTransport):
    """Fails every request with the reason the environment's proxy cannot be used."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(self.reason, request=request)
