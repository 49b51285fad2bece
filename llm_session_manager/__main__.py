from llm_session_manager.entry import main

if __name__ == "__main__":
    main()
