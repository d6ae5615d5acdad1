def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: real subprocesses (signals, 2 processes)')
