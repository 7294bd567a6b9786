def csp_nonce(request):
    """``csp_nonce``: the request's Content-Security-Policy nonce for inline ``<script>``/``<style>`` elements.

    Lazy: a page that uses no nonce puts none in its header. A cached page's view puts a placeholder in its place
    (shop/pagecache/pages.py), the view's context winning over this processor's."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
