"""The PyWPS side of the peer benchmark: one hello process, served by gunicorn."""
import os

from pywps import LiteralInput, LiteralOutput, Process, Service


class Hello(Process):
    def __init__(self):
        super().__init__(
            self._handler,
            identifier="hello",
            title="Hello",
            version="1.0",
            inputs=[LiteralInput("name", "Name", data_type="string")],
            outputs=[LiteralOutput("response", "Greeting", data_type="string")],
            store_supported=True,
            status_supported=True,
        )

    def _handler(self, request, response):
        response.outputs["response"].data = "Hello " + request.inputs["name"][0].data
        return response


application = Service([Hello()], [os.environ["PEERS_PYWPS_CFG"]])
