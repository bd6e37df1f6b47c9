"""Reading downloads in tests: exports are streamed and start with a BOM for Excel."""


def csv_text(response) -> str:
    """The CSV text of a (streamed or plain) download, without the byte-order mark."""
    return response.getvalue().decode("utf-8-sig")
