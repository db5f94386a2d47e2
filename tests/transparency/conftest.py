from tests.training.conftest import one_maker_sale, paid_order, refund  # noqa: F401
from tests.training.conftest import pay  # noqa: F401
